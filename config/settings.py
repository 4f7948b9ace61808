"""Settings from environment variables, with safe embedded defaults.

Embedded default (no variables set): SQLite file in the project folder, in-memory channel layer,
Celery tasks run in process. Production / CI's second leg: DATABASE_URL=postgres://…,
REDIS_URL=redis://… (channels-redis pub/sub layer and the Celery broker).
"""

import os
import warnings
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


DEBUG = env_bool("DJANGO_DEBUG", False)
SECRET_KEY = os.environ.get(
    "DJANGO_SECRET_KEY", "insecure-embedded-default-key-change-me-in-production"
)
ALLOWED_HOSTS = [
    h
    for h in os.environ.get("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver").split(",")
    if h
]
CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get("CSRF_TRUSTED_ORIGINS", "").split(",") if o]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "guardian",
    "channels",
    "core",
    "agencies",
    "cases",
    "alerts",
    "consent",
    "audit",
    "reports",
    "demo",  # `manage.py seed_demo`
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "core.middleware.RefuseNulMiddleware",  # NUL in path, query or cookie: 400, not a 500
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "alerts.context_processors.alerts",
            ]
        },
    },
    {
        # The caseload and family pages (core/jinja2.py), which render with `using="jinja2"`;
        # every other page and form stays on the Django engine above.
        "BACKEND": "django.template.backends.jinja2.Jinja2",
        "NAME": "jinja2",
        "DIRS": [BASE_DIR / "templates" / "jinja2"],
        "APP_DIRS": False,
        "OPTIONS": {
            "environment": "core.jinja2.environment",
            "context_processors": [
                "django.contrib.messages.context_processors.messages",
                "alerts.context_processors.alerts",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------------------------
DATABASE_URL = os.environ.get("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}"
_db = dj_database_url.parse(DATABASE_URL)
if _db["ENGINE"] == "django.db.backends.postgresql":
    # Django's built-in psycopg pool (docs/decisions/0002-asgi-server-workers-and-db-pool.md);
    # JIT off: our queries are short OLTP ones, and it cost more than it saved on the grant
    # subqueries (figures in the decision).
    _db["CONN_MAX_AGE"] = 0
    _db.setdefault("OPTIONS", {})
    _db["OPTIONS"]["pool"] = {
        "min_size": 1,
        "max_size": int(os.environ.get("DB_POOL_MAX", "10")),
        "timeout": 10,
    }
    _db["OPTIONS"]["options"] = "-c jit=off"
    # Parameters bound on the server, so psycopg prepares a statement on a connection after its
    # 5th run there: PostgreSQL plans the hot statements once per connection, not per request
    # (decision 0012). A pooler in front must pass prepared statements (PgBouncer >= 1.21).
    _db["OPTIONS"]["server_side_binding"] = True
    _db["OPTIONS"]["prepare_threshold"] = int(os.environ.get("DB_PREPARE_THRESHOLD", "5"))
    _db["TEST"] = {"NAME": os.environ.get("TEST_DATABASE_NAME", f"test_{_db['NAME']}")}
else:
    _db["OPTIONS"] = {"timeout": 20, "transaction_mode": "IMMEDIATE"}
DATABASES = {"default": _db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: channel layer and Celery broker -------------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL]},
        }
    }
    CELERY_BROKER_URL = REDIS_URL
    CELERY_TASK_ALWAYS_EAGER = False
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CELERY_BROKER_URL = "memory://"
    CELERY_TASK_ALWAYS_EAGER = True
    CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = False  # only idempotent tasks opt in to late acknowledgement
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = "Europe/London"
CELERY_BEAT_SCHEDULE = {
    "alerts-digest": {"task": "alerts.tasks.alerts_digest_send", "schedule": 300.0},
    # Expiry of bases and emergency access must bite within 60 s: sweep every 30 s.
    "sharing-sweep": {"task": "consent.tasks.sharing_sweep", "schedule": 30.0},
    # Report builds whose worker died (no progress for REPORT_STALE_AFTER_S) are started again.
    "reports-sweep": {"task": "reports.tasks.reports_sweep", "schedule": 60.0},
}

# --- Auth and object permissions ------------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    # ModelBackend, reading the session's user with their staff membership in one statement.
    "agencies.authentication.SessionUserBackend",
    "guardian.backends.ObjectPermissionBackend",
]
ANONYMOUS_USER_NAME = None  # guardian: no anonymous user row; anonymous sees nothing
GUARDIAN_MONKEY_PATCH_USER = False
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
PASSWORD_HASHERS = (
    ["django.contrib.auth.hashers.MD5PasswordHasher"]
    if env_bool("FAST_PASSWORD_HASHER", False)
    else [
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    ]
)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "agencies.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "core.pagination.CursorPage",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "core.exceptions.exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["core.parsers.JSONParser"],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    # Sign-in attempts per client address, API token and admin login together
    # (agencies/throttling.py).
    "DEFAULT_THROTTLE_RATES": {"sign_in": os.environ.get("TOKEN_THROTTLE_RATE", "30/min")},
    # Proxies in front of the app whose X-Forwarded-For entries are trusted; 0: REMOTE_ADDR only.
    "NUM_PROXIES": int(os.environ.get("TRUSTED_PROXY_COUNT", "0")),
}
if DEBUG:
    REST_FRAMEWORK["DEFAULT_RENDERER_CLASSES"].append(
        "rest_framework.renderers.BrowsableAPIRenderer"
    )

SPECTACULAR_SETTINGS = {
    "TITLE": "Team Around API",
    "DESCRIPTION": "One shared family case record for whole-family support (API v1).",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "AgencyKindEnum": "agencies.models.AgencyKind",
        "InterventionKindEnum": "cases.models.InterventionKind",
        "FamilyStatusEnum": "cases.models.FamilyStatus",
        "NeedStatusEnum": "cases.models.NeedStatus",
        "ActionStatusEnum": "cases.models.ActionStatus",
        "ContactMethodEnum": "cases.models.ContactMethod",
        "ConsentMethodEnum": "consent.models.ConsentMethod",
        "ReportKindEnum": "reports.models.ReportKind",
        "ReportFormatEnum": "reports.models.ReportFormat",
        "ReportStatusEnum": "reports.models.ReportStatus",
    },
}

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "Europe/London"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# The GOV.UK Design System from its npm package (`make install` copies the files the pages use
# to build/govuk-frontend; nothing of it committed), and our own script and styles; served by the
# app (whitenoise), never from a CDN.
GOVUK_FRONTEND_DIR = BASE_DIR / "build" / "govuk-frontend"
STATICFILES_DIRS = [("govuk", GOVUK_FRONTEND_DIR), BASE_DIR / "static"]
# Built reports (PDF, CSV): files on disk, never served as static or media files; they are
# downloaded through the app, by their requester only (reports/api.py).
REPORTS_ROOT = Path(os.environ.get("REPORTS_ROOT", BASE_DIR / "var" / "reports"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    "reports": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(REPORTS_ROOT), "directory_permissions_mode": 0o700},
    },
}
# A report build that has not shown progress for this long is taken to have lost its worker:
# the sweep starts it again, up to REPORT_MAX_ATTEMPTS builds, then it is marked failed.
REPORT_STALE_AFTER_S = int(os.environ.get("REPORT_STALE_AFTER_S", "120"))
REPORT_MAX_ATTEMPTS = 3
WHITENOISE_USE_FINDERS = True  # serve straight from the folders above: no collectstatic needed
# The Design System's stylesheet asks for its fonts and images at /assets/...: served from the
# same folder.
WHITENOISE_ROOT = GOVUK_FRONTEND_DIR
# Without `collectstatic` there is no STATIC_ROOT folder; whitenoise serves through the finders.
warnings.filterwarnings("ignore", message="No directory at", module="whitenoise.base")
# Browser pages sign in with a session (CSRF on every form).
LOGIN_URL = "sign-in"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "sign-in"

CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    # Sign-in throttle counts, shared by every web process: Redis, else a database table
    # (`manage.py createcachetable`).
    "throttle": (
        {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "throttle",
        }
        if REDIS_URL
        else {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "throttle_cache",
            "OPTIONS": {"MAX_ENTRIES": 100_000},
        }
    ),
}
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "no-reply@teamaround.invalid")
# GOV.UK Notify for the alert digest when a key is set; else Django's e-mail backend.
NOTIFY_API_KEY = os.environ.get("NOTIFY_API_KEY", "")
NOTIFY_BASE_URL = os.environ.get("NOTIFY_BASE_URL", "https://api.notifications.service.gov.uk")
NOTIFY_DIGEST_TEMPLATE_ID = os.environ.get("NOTIFY_DIGEST_TEMPLATE_ID", "")
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
# Where people sign in: the link e-mails and Notify messages carry (they carry no case content).
SITE_URL = os.environ.get("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

# --- Rules that councils set ----------------------------------------------------------------------
# Emergency (break-glass) grants one person may take in a day before a manager must approve more.
EMERGENCY_ACCESS_DAILY_LIMIT = int(os.environ.get("EMERGENCY_ACCESS_DAILY_LIMIT", "3"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
}
