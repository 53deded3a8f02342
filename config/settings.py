"""Beacon settings, read from the environment (12-factor).

Nothing here needs a server: with no environment at all Beacon runs on a SQLite file and a
filesystem broker under ./var. Production points DATABASE_URL and CELERY_BROKER_URL at
PostgreSQL and Redis or RabbitMQ and turns on BEACON_HTTPS (see README.md).
"""

import os
import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp.constants import NONCE, NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("BEACON_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), not {value!r}")


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def _embedded_secret_key() -> str:
    """A per-installation key kept in ./var, so a single host needs no configuration."""
    path = VAR_DIR / "secret_key"
    if not path.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(64))
    return path.read_text().strip()


DEBUG = env_bool("DEBUG")
SECRET_KEY = os.environ.get("SECRET_KEY") or _embedded_secret_key()
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "tenancy.apps.BeaconAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "django_prometheus",
    "csp",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "core",
    "portal",
    "tenancy",
    "events",
    "incidents",
    "alerts",
    "reviews",
    "oncall",
    "django_ratelimit",
    "runbooks",
    "notifications",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "core.middleware.RefuseNulBytesMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "tenancy.body_limit.RequestBodyLimitMiddleware",
    "tenancy.audit.AuditContextMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
                "tenancy.context_processors.organizations",
            ],
        },
    },
]

# Database: SQLite file in ./var by default (WAL, immediate transactions so web, worker
# and scheduler can share it), PostgreSQL through psycopg 3 when DATABASE_URL says so.
DATABASE_URL = os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'beacon.sqlite3'}"
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
else:
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # Row-level security reads the tenant from a per-transaction setting, so every request
    # runs in one transaction (tasks and commands open their own).
    DATABASES["default"]["ATOMIC_REQUESTS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    "tenancy.backends.RolePermissionBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Failed logins lock the username from that address (django-axes).
AXES_FAILURE_LIMIT = int(os.environ.get("LOGIN_FAILURE_LIMIT", 5))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("LOGIN_LOCKOUT_MINUTES", 15)))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False
OTP_TOTP_ISSUER = os.environ.get("OTP_ISSUER", "Beacon")

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "portal:index"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "staticfiles"))
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", VAR_DIR / "media"))
# Incident attachments: the largest file, and per incident the most files and bytes.
ATTACHMENT_MAX_BYTES = int(os.environ.get("ATTACHMENT_MAX_BYTES") or 10 * 1024 * 1024)
ATTACHMENT_MAX_FILES_PER_INCIDENT = int(os.environ.get("ATTACHMENT_MAX_FILES_PER_INCIDENT") or 50)
ATTACHMENT_MAX_TOTAL_BYTES_PER_INCIDENT = int(
    os.environ.get("ATTACHMENT_MAX_TOTAL_BYTES_PER_INCIDENT") or 100 * 1024 * 1024
)
WHITENOISE_USE_FINDERS = DEBUG

# HTTPS deployment profile: `manage.py check --deploy` passes with BEACON_HTTPS=1, DEBUG=0
# and a SECRET_KEY of its own.
BEACON_HTTPS = env_bool("BEACON_HTTPS")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
if BEACON_HTTPS:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^metrics$"]
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", 31536000))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
if env_bool("BEHIND_PROXY"):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    USE_X_FORWARDED_HOST = True
    AXES_IPWARE_PROXY_COUNT = int(os.environ.get("PROXY_COUNT", 1))
    AXES_IPWARE_META_PRECEDENCE_ORDER = ["HTTP_X_FORWARDED_FOR", "REMOTE_ADDR"]

# Content Security Policy: scripts only from here or with the response's nonce; nothing
# from another origin, no framing.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, "'unsafe-inline'"],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if os.environ.get("EMAIL_HOST")
    else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", 25))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS")
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL")
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Beacon <beacon@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# Where people reach Beacon: the links in e-mails (invitations, password resets) start here.
BEACON_URL = os.environ.get("BEACON_URL", "http://localhost:8000")
# How long an invitation's link works; resending it issues a new link and a new term.
INVITATION_VALID_DAYS = int(os.environ.get("INVITATION_VALID_DAYS", 7))

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "tenancy.api.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "core.api.pagination.CursorPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "core.api.exceptions.exception_handler",
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Beacon API",
    "DESCRIPTION": (
        "Multi-tenant incident response. Every resource lives under /api/v1/orgs/{org}/; "
        "authenticate with `Authorization: Bearer <api key>` (or a portal session). "
        "Another organization's objects answer 404."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "RoleEnum": "tenancy.models.Role",
        "TeamRoleEnum": "tenancy.models.TeamMembership.TeamRole",
        "IncidentStatusEnum": "incidents.states.Status",
        "ServiceHealthEnum": "incidents.models.Service.Health",
        "LevelEnum": "incidents.models.Level",
        "PriorityEnum": "incidents.models.Priority",
        "SeverityEnum": "incidents.models.Severity",
        "IntegrationKindEnum": "alerts.models.Integration.Kind",
    },
}

# Celery: a broker that needs no server by default (kombu's filesystem transport in ./var),
# Redis or RabbitMQ in production. Durable state lives in the database, so tasks are
# acknowledged late and re-delivered if a worker dies.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL") or "filesystem://"
BROKER_DIR = VAR_DIR / "broker"
if CELERY_BROKER_URL.startswith("filesystem"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "control_folder": str(BROKER_DIR / "control"),
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER")
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 300
CELERY_TASK_SOFT_TIME_LIMIT = 240
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BEAT_SCHEDULE = {
    "heartbeat": {"task": "core.tasks.heartbeat", "schedule": timedelta(seconds=30)},
    "incidents-auto-close": {"task": "incidents.tasks.auto_close", "schedule": timedelta(hours=1)},
    "incidents-sla-check": {"task": "incidents.tasks.sla_check", "schedule": timedelta(minutes=1)},
    "alerts-apply-pending": {
        "task": "alerts.tasks.apply_pending",
        "schedule": timedelta(minutes=1),
    },
    "incidents-purge-idempotency-keys": {
        "task": "incidents.tasks.purge_idempotency_keys",
        "schedule": timedelta(hours=1),
    },
    "events-sweep": {"task": "events.tasks.sweep", "schedule": timedelta(seconds=30)},
    "events-purge": {"task": "events.tasks.purge", "schedule": timedelta(hours=24)},
    # Pages due escalation steps; a tick not run within its period is dropped, the next
    # one does its work (the due times are in the database).
    "oncall-escalations-tick": {
        "task": "oncall.tasks.tick",
        "schedule": timedelta(seconds=5),
        "options": {"expires": 5},
    },
    # Sends the notification outbox's due deliveries (retries, lost sends).
    "notifications-sweep": {
        "task": "notifications.tasks.sweep",
        "schedule": timedelta(seconds=10),
        "options": {"expires": 10},
    },
}

# The notification outbox: seconds one send (a webhook request, the mail server) may take.
BEACON_WEBHOOK_TIMEOUT = float(os.environ.get("BEACON_WEBHOOK_TIMEOUT", "15"))

# Domain events (the outbox in events/): a delivery still missing this many seconds after
# its event is sent again by the sweep; complete events are kept this many days.
EVENTS_REDISPATCH_AFTER = int(os.environ.get("BEACON_EVENTS_REDISPATCH_AFTER", "60"))
EVENTS_RETENTION_DAYS = int(os.environ.get("BEACON_EVENTS_RETENTION_DAYS", "30"))

# Escalations: the seconds in one of a step's delay minutes (60; the tests of the real
# worker shorten it so a two-step escalation runs in seconds).
ONCALL_MINUTE_SECONDS = int(os.environ.get("BEACON_ONCALL_MINUTE_SECONDS", "60"))

# Outgoing calls (webhooks, Slack, Teams, Twilio: notifications/outbound.py) refuse a host
# that resolves to a private, loopback or link-local address. A deployment whose receivers
# live on its own network turns that off, and so do the tests of the local servers.
BEACON_ALLOW_PRIVATE_OUTBOUND = env_bool("BEACON_ALLOW_PRIVATE_OUTBOUND")

# A cache shared by the web processes: Redis in production (CACHE_URL), used for the
# per-integration rate limit of alert ingestion (django-ratelimit). The embedded default
# keeps it in each process's memory, so there a limit counts per web process.
CACHE_URL = os.environ.get("CACHE_URL", "")
if CACHE_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
SILENCED_SYSTEM_CHECKS = [
    # Django's own Redis backend increments atomically; the check knows only django-redis.
    "django_ratelimit.W001",
    # The embedded default has no shared cache: limits count per process (see above).
    *([] if CACHE_URL else ["django_ratelimit.E003"]),
]

# Alert ingestion refuses bodies over 512 KB (the PagerDuty Events API's limit).
ALERT_MAX_BODY_BYTES = 512 * 1024

# Request bodies over these limits are refused with 413 before anything reads them
# (tenancy.body_limit). Per path, the first rule that matches: (pattern, limit in bytes or
# None where the view enforces its own, whether the limit needs a logged-in user or an API
# key; anonymous requests get REQUEST_MAX_BYTES there). Everything else: REQUEST_MAX_BYTES.
REQUEST_MAX_BYTES = int(os.environ.get("REQUEST_MAX_BYTES") or 2_621_440)
_MULTIPART_OVERHEAD = 64 * 1024
REQUEST_BODY_LIMITS = [
    (r"^/(v2/|integrations/)", None, False),  # alert ingestion: ALERT_MAX_BODY_BYTES
    (
        r"^/api/v1/orgs/[^/]+/incidents/[^/]+/attachments/?$",
        ATTACHMENT_MAX_BYTES + _MULTIPART_OVERHEAD,
        True,
    ),
    (  # the portal sends up to 10 files at once (incidents.attachment_views.MAX_FILES)
        r"^/o/[^/]+/incidents/(new|[0-9]+/attachments)/$",
        10 * ATTACHMENT_MAX_BYTES + _MULTIPART_OVERHEAD,
        True,
    ),
]

# /metrics is open by default (scrape it from inside the network); set METRICS_TOKEN to
# require `Authorization: Bearer <token>`.
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")

# Fernet keys for the secrets Beacon stores (core/secrets.py), newest first: the first
# encrypts, all decrypt. Empty: a key derived from SECRET_KEY.
BEACON_ENCRYPTION_KEYS = env_list("BEACON_ENCRYPTION_KEYS")

# One line per record, through the root's handler only: Django's own console handler
# (DEBUG) would print every django.* record a second time. A 4xx is logged as one line
# without a traceback (core/logs.py); a 5xx keeps its traceback.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "filters": {"client_errors": {"()": "core.logs.ClientErrorsWithoutTraceback"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django": {"handlers": [], "level": "INFO"},
        "django.request": {"filters": ["client_errors"]},
        "django.db.backends": {"level": "INFO"},
    },
}
