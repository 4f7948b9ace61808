"""Production settings (`TEAMAROUND_ENV=production`, config/settings.py) and the security headers.

- Under production settings `manage.py check --deploy` finds nothing to warn of (run in a
  subprocess, as a deployment would, with a secret key and host names from the environment).
- Production refuses to start without a real secret key (missing, the embedded development key,
  or too short), without ALLOWED_HOSTS, or with DEBUG on; an unknown TEAMAROUND_ENV is refused.
- Development (unset) keeps the embedded defaults that `make demo` and the tests run on.
- Every page and API response carries the Content-Security-Policy (no inline script or style,
  no framing), X-Frame-Options DENY, the referrer, opener and permissions policies and nosniff;
  under production settings, HSTS and the redirect to https.
- No template has an inline script, a `<style>` element, a `style` attribute or an inline event
  handler: the policy would refuse them.
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client, override_settings

from tests import factories as f

ROOT = Path(settings.BASE_DIR)
PRODUCTION_ENV = {
    "TEAMAROUND_ENV": "production",
    "DJANGO_SECRET_KEY": secrets.token_urlsafe(60),  # made afresh for each run
    "ALLOWED_HOSTS": "teamaround.example.gov.uk",
}


def _run(code_or_args: list[str], **env) -> subprocess.CompletedProcess:
    environment = {
        k: v
        for k, v in os.environ.items()
        if k
        not in {
            "TEAMAROUND_ENV",
            "DJANGO_SECRET_KEY",
            "ALLOWED_HOSTS",
            "DJANGO_DEBUG",
            "DJANGO_SETTINGS_MODULE",
        }
    }
    environment.update(env, DJANGO_SETTINGS_MODULE="config.settings")
    return subprocess.run(
        [sys.executable, *code_or_args],
        env=environment,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _settings(names: list[str], **env) -> dict:
    code = (
        "import json, django; django.setup(); from django.conf import settings;"
        f"print(json.dumps({{n: getattr(settings, n, None) for n in {names!r}}}, default=str))"
    )
    result = _run(["-c", code], **env)
    assert result.returncode == 0, result.stderr
    import json

    return json.loads(result.stdout.strip().splitlines()[-1])


def test_check_deploy_passes_under_production_settings():
    result = _run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], **PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout, result.stdout + result.stderr


def test_check_deploy_warns_under_development_settings():
    """The same check on the embedded defaults does warn: the test above is not vacuous."""
    result = _run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"])
    assert result.returncode != 0
    assert "security.W004" in result.stderr + result.stdout  # no HSTS


@pytest.mark.parametrize(
    "env, message",
    [
        ({"DJANGO_SECRET_KEY": ""}, "DJANGO_SECRET_KEY"),
        (
            {"DJANGO_SECRET_KEY": "insecure-embedded-default-key-change-me-in-production"},
            "DJANGO_SECRET_KEY",
        ),
        ({"DJANGO_SECRET_KEY": "short-but-not-empty"}, "DJANGO_SECRET_KEY"),
        ({"ALLOWED_HOSTS": ""}, "ALLOWED_HOSTS"),
        ({"ALLOWED_HOSTS": "*"}, "ALLOWED_HOSTS"),
        ({"DJANGO_DEBUG": "1"}, "DJANGO_DEBUG"),
        ({"TEAMAROUND_ENV": "staging"}, "TEAMAROUND_ENV"),
    ],
    ids=["no key", "the development key", "a short key", "no hosts", "any host", "debug", "typo"],
)
def test_production_refuses_to_start_without_its_settings(env, message):
    result = _run(["manage.py", "check"], **{**PRODUCTION_ENV, **env})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and message in result.stderr


def test_production_and_development_settings():
    names = [
        "PRODUCTION",
        "DEBUG",
        "SECRET_KEY",
        "ALLOWED_HOSTS",
        "SECURE_SSL_REDIRECT",
        "SESSION_COOKIE_SECURE",
        "CSRF_COOKIE_SECURE",
        "SECURE_HSTS_SECONDS",
        "SECURE_PROXY_SSL_HEADER",
    ]
    production = _settings(names, **PRODUCTION_ENV)
    assert production == {
        "PRODUCTION": True,
        "DEBUG": False,
        "SECRET_KEY": PRODUCTION_ENV["DJANGO_SECRET_KEY"],
        "ALLOWED_HOSTS": ["teamaround.example.gov.uk"],
        "SECURE_SSL_REDIRECT": True,
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SECURE_HSTS_SECONDS": 31_536_000,
        "SECURE_PROXY_SSL_HEADER": None,
    }
    # Behind a trusted TLS-terminating proxy, its X-Forwarded-Proto says the scheme.
    proxied = _settings(["SECURE_PROXY_SSL_HEADER"], TRUSTED_PROXY_COUNT="1", **PRODUCTION_ENV)
    assert proxied == {"SECURE_PROXY_SSL_HEADER": ["HTTP_X_FORWARDED_PROTO", "https"]}
    development = _settings(names)
    assert development["PRODUCTION"] is False
    assert development["SECURE_SSL_REDIRECT"] is False
    assert development["SESSION_COOKIE_SECURE"] is False
    assert "127.0.0.1" in development["ALLOWED_HOSTS"]


# --- the headers ------------------------------------------------------------------------------


def _policy(response) -> dict[str, list[str]]:
    directives = {}
    for part in response["Content-Security-Policy"].split(";"):
        name, *values = part.split()
        directives[name] = values
    return directives


def _assert_security_headers(response) -> None:
    policy = _policy(response)
    for directive in ("default-src", "script-src", "style-src", "img-src", "connect-src"):
        assert policy[directive] == ["'self'"], (directive, policy)
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["base-uri"] == ["'none'"]
    assert policy["form-action"] == ["'self'"]
    assert not any("unsafe" in v for values in policy.values() for v in values), policy
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    assert response["X-Content-Type-Options"] == "nosniff"
    permissions = response["Permissions-Policy"]
    for feature in ("camera", "microphone", "geolocation", "payment", "usb"):
        assert f"{feature}=()" in permissions


@pytest.mark.django_db
def test_a_page_and_an_api_response_carry_the_security_headers(client_for):
    page = Client().get("/sign-in/")
    assert page.status_code == 200
    _assert_security_headers(page)
    member = f.staff_make()
    api = client_for(member.user).get("/api/v1/me/")
    assert api.status_code == 200
    _assert_security_headers(api)
    refused = client_for(None).get("/api/v1/me/")
    assert refused.status_code == 401
    _assert_security_headers(refused)


@pytest.mark.django_db
def test_production_sends_http_to_https_and_asks_for_hsts():
    production = {
        "SECURE_SSL_REDIRECT": True,
        "SECURE_HSTS_SECONDS": 31_536_000,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
        "SECURE_HSTS_PRELOAD": True,
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
    }
    with override_settings(**production):
        plain = Client().get("/sign-in/")
        assert plain.status_code == 301
        assert plain["Location"] == "https://testserver/sign-in/"
        secure = Client().get("/sign-in/", secure=True)
        assert secure.status_code == 200
        assert secure["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
        assert secure.cookies["csrftoken"]["secure"]
        _assert_security_headers(secure)


# --- the templates ----------------------------------------------------------------------------

INLINE = {
    "an inline script": re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I),
    "a <style> element": re.compile(r"<style\b", re.I),
    "a style attribute": re.compile(r"\sstyle\s*=", re.I),
    "an inline event handler": re.compile(r"\son[a-z]+\s*=", re.I),
    "a javascript: URL": re.compile(r"javascript:", re.I),
}


def test_no_template_has_inline_script_or_style():
    found = []
    templates = sorted((ROOT / "templates").rglob("*.html"))
    assert len(templates) > 20
    for template in templates:
        text = template.read_text()
        for what, pattern in INLINE.items():
            for match in pattern.finditer(text):
                line = text.count("\n", 0, match.start()) + 1
                found.append(f"{template.relative_to(ROOT)}:{line}: {what}")
    assert not found, "\n".join(found)
