"""Reports' fixtures: built files go to a temporary folder; the claim framework row is there
(a transactional test elsewhere may have flushed what the data migration loaded)."""

from __future__ import annotations

import csv
import io
import re
from contextlib import contextmanager

import pytest
from django.conf import settings
from pypdf import PdfReader


@pytest.fixture(autouse=True)
def reports_storage(settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "reports": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "reports")},
        },
    }
    return tmp_path / "reports"


@contextmanager
def tasks_in_process():
    """Report builds run in process, after commit, as on the embedded default, also on the
    leg where REDIS_URL sends tasks to a broker (test_worker_lost.py runs a real worker)."""
    from config.celery import app

    before = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager, app.conf.task_eager_propagates = True, True
    try:
        yield
    finally:
        app.conf.task_always_eager, app.conf.task_eager_propagates = before


@pytest.fixture(autouse=True)
def reports_in_process(request):
    if request.node.get_closest_marker("services"):
        yield
        return
    with tasks_in_process():
        yield


def framework_ensure():
    from reports.models import ClaimFramework
    from tests import factories as f

    f.reference_data_ensure()
    return ClaimFramework.objects.get(version="2022")


@pytest.fixture(autouse=True)
def claim_framework(request):
    for name in ("transactional_db", "db"):
        if name in request.fixturenames:
            request.getfixturevalue(name)
            return framework_ensure()
    return None


@contextmanager
def module_reports(django_db_blocker, folder):
    """For a module's data built once (factories.kept_db): reports into `folder`, the
    framework there; yields `Reports` for a user."""
    from django.test import TestCase, override_settings
    from rest_framework.test import APIClient

    from tests import factories as f

    storages = {
        **settings.STORAGES,
        "reports": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(folder)},
        },
    }
    with (
        f.kept_db(django_db_blocker),
        override_settings(STORAGES=storages),
        tasks_in_process(),
    ):
        framework_ensure()

        def reports_for(user) -> Reports:
            client = APIClient()
            client.credentials(HTTP_AUTHORIZATION=f"Token {f.token_for(user)}")
            return Reports(client, TestCase.captureOnCommitCallbacks)

        yield reports_for


class Reports:
    """Ask for a report through the API as `client`, let it build (in process, after commit),
    and read it back."""

    def __init__(self, client, capture):
        self.client, self.capture = client, capture

    def ask(self, **body):
        with self.capture(execute=True):
            response = self.client.post("/api/v1/reports/", body, format="json")
        return response

    def build(self, **body) -> dict:
        response = self.ask(**body)
        assert response.status_code == 202, response.content[:500]
        report = self.client.get(f"/api/v1/reports/{response.json()['id']}/").json()
        assert report["status"] == "done", report
        return report

    def download(self, report: dict) -> bytes:
        response = self.client.get(f"/api/v1/reports/{report['id']}/download/")
        assert response.status_code == 200, response.content[:300]
        return b"".join(response.streaming_content)

    def csv(self, **body) -> list[dict]:
        data = self.download(self.build(format="csv", **body))
        return list(csv.DictReader(io.StringIO(data.decode("utf-8"))))

    def pdf_text(self, **body) -> str:
        return pdf_text(self.download(self.build(format="pdf", **body)))


def pdf_text(data: bytes) -> str:
    assert data.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(data))
    return "\n".join(page.extract_text() for page in reader.pages)


@pytest.fixture
def reports_as(client_for, django_capture_on_commit_callbacks):
    def make(user) -> Reports:
        return Reports(client_for(user), django_capture_on_commit_callbacks)

    return make


def pdf_lines(text: str, footer: str) -> list[str]:
    """The PDF's extracted lines without the page furniture: the marking, the footer (which
    starts with `footer`, the report's title), the generated line and the page number."""
    furniture = re.compile(rf"OFFICIAL-SENSITIVE|{re.escape(footer)}: .*|Generated .*|Page \d+")
    return [ln.strip() for ln in text.splitlines() if not furniture.fullmatch(ln.strip())]


def without_repeated_headers(lines: list[str], headers: list[list[str]]) -> list[str]:
    """`lines` with each table header once: a table split by a page break repeats its header."""
    out, seen, at = [], set(), 0
    while at < len(lines):
        header = next((h for h in headers if lines[at : at + len(h)] == h), None)
        if header is None:
            out.append(lines[at])
            at += 1
            continue
        if tuple(header) not in seen:
            seen.add(tuple(header))
            out += header
        at += len(header)
    return out


def words(lines: list[str]) -> str:
    """The lines as one string of words: a cell wrapped onto more lines reads the same."""
    return " ".join(" ".join(lines).split())


def api_all(client, path: str) -> list[dict]:
    """Every item of a paginated API list, following `next` (each page must answer 200)."""
    out, url = [], path
    while url:
        response = client.get(url)
        assert response.status_code == 200, (url, response.content[:300])
        body = response.json()
        out += body["results"]
        url = body["next"]
    return out
