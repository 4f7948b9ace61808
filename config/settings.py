"""Settings from environment variables, with safe embedded defaults.

Embedded default (no variables set): SQLite file in the project folder, in-memory channel layer,
Celery tasks run in process. Production / CI's second leg: DATABASE_URL=postgres://…,
REDIS_URL=redis://… (channels-redis pub/sub layer and the Celery broker).
"""

import os
import warnings
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import dj_database_url
from csp import constants as csp
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


# --- Development or production: one setting ------------------------------------------------------
# TEAMAROUND_ENV=production: HTTPS only (secure cookies, HSTS, redirect to https), DEBUG off, the
# secret key and the host names from the environment (refused when missing or the embedded
# default), and the second factor required of everyone who signs in. Unset or "development":
# the embedded defaults that `make demo` and `make test` run on (decision 0020).
TEAMAROUND_ENV = os.environ.get("TEAMAROUND_ENV", "development").strip().lower() or "development"
if TEAMAROUND_ENV not in ("development", "production"):
    raise ImproperlyConfigured("TEAMAROUND_ENV is 'development' (the default) or 'production'.")
PRODUCTION = TEAMAROUND_ENV == "production"
DEVELOPMENT_SECRET_KEY = "insecure-embedded-default-key-change-me-in-production"

if PRODUCTION:
    if env_bool("DJANGO_DEBUG", False):
        raise ImproperlyConfigured("DJANGO_DEBUG cannot be on when TEAMAROUND_ENV=production.")
    DEBUG = False
    SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
    if SECRET_KEY in ("", DEVELOPMENT_SECRET_KEY) or len(SECRET_KEY) < 50:
        raise ImproperlyConfigured(
            "Set DJANGO_SECRET_KEY to a random value of at least 50 characters (production)."
        )
    ALLOWED_HOSTS = env_list("ALLOWED_HOSTS")
    if not ALLOWED_HOSTS or "*" in ALLOWED_HOSTS:
        raise ImproperlyConfigured("Set ALLOWED_HOSTS to the service's host names (production).")
else:
    DEBUG = env_bool("DJANGO_DEBUG", False)
    SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", DEVELOPMENT_SECRET_KEY)
    ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")
CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get("CSRF_TRUSTED_ORIGINS", "").split(",") if o]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "knox",  # API tokens: hashed, expiring (agencies.models.ApiToken, decision 0021)
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI's files, served by the app (no CDN)
    "csp",  # the Content-Security-Policy header (CONTENT_SECURITY_POLICY below)
    "guardian",
    "axes",  # lockout after repeated failed sign-ins (AXES_* below)
    "django_otp",  # the second factor (agencies/second_factor.py)
    "django_otp.plugins.otp_totp",  # authenticator apps' codes (TOTP)
    "simple_history",  # the field history of the family record (decision 0018)
    "channels",
    "core",
    "agencies",
    "cases",
    "alerts",
    "consent",
    "audit",
    "reports",
    "accountability",  # the readers of the access log
    "identification",  # data matching: uploads, runs, candidate households (decision 0027)
    "referrals",  # referrals to the early help front door, and its decisions
    "demo",  # `manage.py seed_demo`
]

MIDDLEWARE = [
    "core.middleware.RequestIdMiddleware",  # request.request_id, the X-Request-ID header
    # The access events of the request, written with one INSERT once its response is ready.
    "audit.middleware.AccessLogMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "core.middleware.PermissionsPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # After WhiteNoise (static files keep their caching): nothing else may be kept by a cache.
    "core.middleware.NoStoreMiddleware",
    "core.middleware.RefuseNulMiddleware",  # NUL in path, query or cookie: 400, not a 500
    "django.contrib.sessions.middleware.SessionMiddleware",
    "agencies.middleware.SessionIdleMiddleware",  # sessions end after 30 minutes idle
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",  # request.user.is_verified(): the code was given
    "agencies.middleware.SecondFactorMiddleware",  # until then, only the code page
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last: turns a sign-in refused for a lockout into the locked page or the API's 429.
    "axes.middleware.AxesMiddleware",
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
        # How long a request waits for a connection (the database down or every connection
        # busy) before it is answered 503 (core.exceptions.server_error, decision 0024).
        "timeout": float(os.environ.get("DB_POOL_TIMEOUT", "10")),
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
# `make test` runs the tests in parallel processes (pytest-xdist, `gw0`, `gw1`, ...). Each gets
# a test database of its own (pytest-django's `_gwN` suffix) and so Redis databases of its own:
# two each (its own and its live server's, tests/web/live.py), so that one process's alerts,
# channel groups and Celery queue never reach another's. Set once, in the test process: the
# servers and workers it starts inherit the adjusted address and keep it.
_test_worker = os.environ.get("PYTEST_XDIST_WORKER", "")
if (
    REDIS_URL
    and _test_worker.startswith("gw")
    and os.environ.get("REDIS_URL_WORKER") != _test_worker
):
    _redis = urlparse(REDIS_URL)
    _redis_db = int(_redis.path.strip("/") or 0) + 2 * int(_test_worker[2:])
    REDIS_URL = urlunparse(_redis._replace(path=f"/{_redis_db % 16}"))
    os.environ["REDIS_URL"], os.environ["REDIS_URL_WORKER"] = REDIS_URL, _test_worker
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            # channels-redis' pub/sub layer, which also tells the consumers when it subscribed
            # to Redis again after losing it (pushes made meanwhile are re-read: decision 0024).
            "BACKEND": "core.channel_layer.RedisPubSubChannelLayer",
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
    # Raw identification uploads past their retention are deleted (decision 0028).
    "identification-retention": {
        "task": "identification.tasks.datasets_retention",
        "schedule": 3600.0,
    },
    # The access log's hash chain: events written since the last run are sealed (decision 0017).
    "access-log-seal": {"task": "audit.tasks.access_events_seal", "schedule": 30.0},
    # Families closed longer than RETENTION_CLOSED_YEARS are pseudonymised (decision 0022).
    "retention": {"task": "cases.tasks.families_pseudonymise_due", "schedule": 3600.0},
    # Referrals never joined to a family, decided longer ago than RETENTION_REFERRAL_YEARS.
    "referral-retention": {
        "task": "referrals.tasks.referrals_unjoined_pseudonymise_due",
        "schedule": 3600.0,
    },
    # Key workers reminded of reviews a week ahead and once overdue (idempotent; days matter).
    "review-sweep": {"task": "cases.tasks.review_sweep", "schedule": 300.0},
}
# The access log (audit.AccessEvent) is always written; only `make bench` turns it off, on a
# server of its own, to measure what it costs (bench/http_load.py).
AUDIT_ACCESS_LOG = True
# PostgreSQL: a request waits for its access events to reach the disk only when this is on; off,
# they are flushed within a few hundred milliseconds (decision 0017 has the trade and its cost).
AUDIT_SYNCHRONOUS_COMMIT = env_bool("AUDIT_SYNCHRONOUS_COMMIT", False)

# --- Auth and object permissions ------------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    # First: refuses every sign-in (page, API token, Django admin) of a locked username+address.
    "axes.backends.AxesStandaloneBackend",
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
# Lockout (django-axes, agencies/lockout.py): SIGN_IN_LOCKOUT_FAILURES failed sign-ins of one
# username from one client address (the throttle's rule for who the client is) lock that pair for
# SIGN_IN_LOCKOUT_MINUTES, counted from the last failure; attempts while locked are refused
# without a password check and do not extend it; a successful sign-in clears the count. Applies
# to the sign-in page, the API's token endpoint and the Django admin's login. Unlock early: the
# Django admin's "Access attempts", or `manage.py axes_reset_username <username>`.
AXES_FAILURE_LIMIT = int(os.environ.get("SIGN_IN_LOCKOUT_FAILURES", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("SIGN_IN_LOCKOUT_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_CLIENT_IP_CALLABLE = "agencies.lockout.client_ip"
AXES_LOCKOUT_CALLABLE = "agencies.lockout.lockout_response"
# The second factor (agencies/second_factor.py): an authenticator app's code after the password,
# required of everyone under production settings; offered under development settings (required
# only of whoever set up an app), so the demo accounts sign in with a password.
SECOND_FACTOR_REQUIRED = PRODUCTION
OTP_TOTP_ISSUER = "Team Around"
# API tokens (django-rest-knox, our model agencies.ApiToken; decision 0021): issued by
# `POST /api/v1/auth/token/`, each expires API_TOKEN_HOURS after it was issued (default 12); kept
# as a SHA-512 digest only; listed and revoked at /api/v1/auth/tokens/.
KNOX_TOKEN_MODEL = "agencies.ApiToken"
# knox's own model is swapped for ours, but its migrations do not say so and would create its
# unused table (whose key to auth_user stops the test runner emptying that table): not run.
MIGRATION_MODULES = {"knox": None}
API_TOKEN_HOURS = float(os.environ.get("API_TOKEN_HOURS", "12"))
if not 0 < API_TOKEN_HOURS <= 24 * 366:
    raise ImproperlyConfigured("API_TOKEN_HOURS must be more than 0 (and at most a year).")
REST_KNOX = {
    "TOKEN_MODEL": KNOX_TOKEN_MODEL,
    "TOKEN_TTL": timedelta(hours=API_TOKEN_HOURS),
    "AUTH_HEADER_PREFIX": "Token",
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "agencies.authentication.TokenAuthentication",
        "agencies.authentication.SessionAuthentication",  # DRF's, once the code is given
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "core.pagination.CursorPage",
    "DEFAULT_SCHEMA_CLASS": "core.schema.AutoSchema",  # the error answers of every operation
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
    # The schema and its docs page for people signed in only; Swagger UI from the app's own static
    # files (drf-spectacular-sidecar), never a CDN.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "AgencyKindEnum": "agencies.models.AgencyKind",
        "InterventionKindEnum": "cases.models.InterventionKind",
        "FamilyStatusEnum": "cases.models.FamilyStatus",
        "ClosureReasonEnum": "cases.models.ClosureReason",
        "ReferralDecisionEnum": "referrals.models.Decision",
        "ReferralStatusEnum": "referrals.models.ReferralStatus",
        "NeedStatusEnum": "cases.models.NeedStatus",
        "ActionStatusEnum": "cases.models.ActionStatus",
        "ContactMethodEnum": "cases.models.ContactMethod",
        "ConsentMethodEnum": "consent.models.ConsentMethod",
        "ReportKindEnum": "reports.models.ReportKind",
        "ReportFormatEnum": "reports.models.ReportFormat",
        "ReportStatusEnum": "reports.models.ReportStatus",
        "AccessFootingEnum": "audit.models.Footing",
        "AccessFootingFilterEnum": "accountability.serializers.FOOTINGS",
        "CandidateDecisionEnum": "identification.models.Decision",
        "EmergencyDecisionEnum": [("upheld", "Upheld"), ("not_justified", "Not justified")],
        "LegalGatewayEnum": "identification.models.LegalGateway",
        "MatchRunStatusEnum": "identification.models.RunStatus",
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
# Identification (decisions 0027, 0028): a link is kept at or above this match probability; raw
# uploads are deleted this many days after upload (a daily task); a run's DuckDB memory cap.
MATCH_THRESHOLD = float(os.environ.get("MATCH_THRESHOLD", "0.95"))
IDENTIFICATION_RETENTION_DAYS = int(os.environ.get("IDENTIFICATION_RETENTION_DAYS", "90"))
MATCH_MEMORY_LIMIT = os.environ.get("MATCH_MEMORY_LIMIT", "2GB")
IDENTIFICATION_MAX_UPLOAD_ROWS = 200_000
WHITENOISE_USE_FINDERS = True  # serve straight from the folders above: no collectstatic needed
# The Design System's stylesheet asks for its fonts and images at /assets/...: served from the
# same folder.
WHITENOISE_ROOT = GOVUK_FRONTEND_DIR
# Without `collectstatic` there is no STATIC_ROOT folder; whitenoise serves through the finders.
warnings.filterwarnings("ignore", message="No directory at", module="whitenoise.base")
# Browser pages sign in with a session (CSRF on every form).
LOGIN_URL = "sign-in"
# A session ends after 30 minutes without a request (agencies.middleware.SessionIdleMiddleware):
# its expiry moves on when it was last saved a minute or more ago, not at every request.
SESSION_COOKIE_AGE = 30 * 60
SESSION_TOUCH_INTERVAL_S = 60
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "sign-in"

# --- HTTPS, cookies and security headers (decision 0020) ------------------------------------------
# Production: HTTPS only. Behind TLS-terminating proxies (TRUSTED_PROXY_COUNT > 0) the scheme is
# the X-Forwarded-Proto the proxy sets. `manage.py check --deploy` passes with these.
SECURE_SSL_REDIRECT = PRODUCTION
SESSION_COOKIE_SECURE = PRODUCTION
CSRF_COOKIE_SECURE = PRODUCTION
SECURE_HSTS_SECONDS = 31_536_000 if PRODUCTION else 0  # a year
SECURE_HSTS_INCLUDE_SUBDOMAINS = PRODUCTION
SECURE_HSTS_PRELOAD = PRODUCTION
if PRODUCTION and REST_FRAMEWORK["NUM_PROXIES"] > 0:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Both ways to run, so every test and the demo run under the same headers as production.
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# Scripts, styles, images, fonts and connections (fetch, the alerts WebSocket) from the service
# itself only: no inline script or style, no eval, no framing. The API docs page adds what Swagger
# UI needs on that route only (core/api_docs.py).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [csp.SELF],
        "script-src": [csp.SELF],
        "style-src": [csp.SELF],
        "img-src": [csp.SELF],
        "font-src": [csp.SELF],
        "connect-src": [csp.SELF],
        "object-src": [csp.NONE],
        "base-uri": [csp.NONE],
        "form-action": [csp.SELF],
        "frame-ancestors": [csp.NONE],
        "upgrade-insecure-requests": PRODUCTION,
    }
}
# Browser features the service never uses, off (core.middleware.PermissionsPolicyMiddleware).
PERMISSIONS_POLICY = {
    feature: []
    for feature in (
        "accelerometer",
        "autoplay",
        "camera",
        "display-capture",
        "fullscreen",
        "geolocation",
        "gyroscope",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "picture-in-picture",
        "publickey-credentials-get",
        "screen-wake-lock",
        "usb",
        "xr-spatial-tracking",
    )
}

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
# Unusual access (accountability/selectors.py): a person reading more than BURST_READ_FAMILIES
# distinct families within BURST_READ_MINUTES minutes is a burst of reads.
BURST_READ_FAMILIES = int(os.environ.get("BURST_READ_FAMILIES", "20"))
BURST_READ_MINUTES = int(os.environ.get("BURST_READ_MINUTES", "10"))
# Retention (cases/retention.py, decision 0022): a family closed longer than this many years has
# its personal details replaced, RETENTION_BATCH families at most per hourly run.
RETENTION_CLOSED_YEARS = int(os.environ.get("RETENTION_CLOSED_YEARS", "6"))
RETENTION_BATCH = int(os.environ.get("RETENTION_BATCH", "200"))
# A referral never joined to a family (signposted, stepped up, no further action) decided longer
# than this many years ago has its personal details replaced by the same hourly run
# (referrals/services.py, decision 0026).
RETENTION_REFERRAL_YEARS = int(os.environ.get("RETENTION_REFERRAL_YEARS", "6"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
    # The access log's newest link after each seal (audit.services): kept in the process logs,
    # outside the database, it anchors the chain (decision 0017).
    "loggers": {"audit.seal": {"level": "INFO"}},
}
