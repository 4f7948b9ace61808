"""bench.settings with authentication switched to the library's way, by settings alone:
django-rest-knox's `TokenAuthentication` (the tokens sharing the secret's first characters, with
their user; then every token of that user, to delete the expired ones; the digest compared) and
Django's `ModelBackend` for sessions; the staff membership is then read by
`agencies.selectors.staff_for_user` (the ORM, one more statement) when a request first asks for
it. The tokens are the same rows (agencies.ApiToken) either way."""

from bench.library._base import *  # noqa: F403
from bench.library._base import REST_FRAMEWORK

BENCH_LIBRARY_WAY = "auth"
REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "knox.auth.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
}
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
