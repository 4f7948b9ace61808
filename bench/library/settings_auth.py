"""bench.settings with authentication switched to the library's way, by settings alone: DRF's
`TokenAuthentication` (the token with its user, `select_related`) and Django's `ModelBackend`
for sessions; the staff membership is then read by `agencies.selectors.staff_for_user` (the ORM,
a second statement) when a request first asks for it."""

from bench.library._base import *  # noqa: F403
from bench.library._base import REST_FRAMEWORK

BENCH_LIBRARY_WAY = "auth"
REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
}
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
