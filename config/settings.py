"""Latchkey settings: everything that differs between machines comes from the environment."""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

from config.devfiles import (
    generate_django_secret,
    generate_fernet_key,
    read_or_create_secret,
)
from credentials.outbound import parse_networks

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG")

# Where the embedded development mode keeps the secrets it generates (git-ignored).
DEV_DIR = Path(os.environ.get("LATCHKEY_DEV_DIR", BASE_DIR / ".dev"))

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set it in the environment (DEBUG is off), "
            "or set DEBUG=1 for the embedded development mode."
        )
    SECRET_KEY = read_or_create_secret(DEV_DIR / "secret-key", generate_django_secret, label="Django SECRET_KEY")

# The first key encrypts, every key decrypts. Validated by credentials.checks, never logged.
FERNET_KEYS = env_list("FERNET_KEYS")
if not FERNET_KEYS and DEBUG:
    FERNET_KEYS = [read_or_create_secret(DEV_DIR / "fernet.key", generate_fernet_key, label="encryption key")]

# The audit trail's MAC keys (audit.keys): the first signs, every key verifies. Like FERNET_KEYS,
# never in the database, so that whoever can write the database cannot forge or rewrite events.
AUDIT_KEYS = env_list("AUDIT_KEYS")
if not AUDIT_KEYS and DEBUG:
    AUDIT_KEYS = [read_or_create_secret(DEV_DIR / "audit.key", generate_fernet_key, label="audit key")]

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "config.third_party.TokensConfig",  # knox, named for the admin
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "guardian",
    "config.third_party.LockoutsConfig",  # axes, named for the admin
    "csp",
    "credentials",
    "audit",
    "plugins",
    "accounts",
    "notifications",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last, so that it sees the response of a login that axes refused.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"

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
                "credentials.context_processors.access_reviews",
            ],
        },
    },
]

WSGI_APPLICATION = "config.wsgi.application"

DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Our queries are short; PostgreSQL's JIT compiler would spend tens of milliseconds
    # compiling a page of a thousand rows that runs in a few (measured by `make bench`).
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("options", "-c jit=off")
# The credential list's statements run as server-side prepared statements (config/prepared.py).
# Turn it off behind a pooler that gives each transaction another server connection (PgBouncer's
# transaction mode): the statements are prepared on one connection and would be missing on the next.
PREPARED_STATEMENTS = env_bool("DATABASE_PREPARED_STATEMENTS", default=True)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTHENTICATION_BACKENDS = [
    # First: refuses a login from an address or for a user with too many recent failures.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "staticfiles"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# The shortest secret a credential accepts (credentials.validation): a shorter one cannot be redacted
# from the text that tests and git send back without destroying it, nor without letting whoever plants
# text there learn the secret from what gets masked. Lowering it is the operator's call (README).
CREDENTIAL_SECRET_MIN_LENGTH = int(os.environ.get("CREDENTIAL_SECRET_MIN_LENGTH", "8"))

# How many sealed versions of a credential's secret are kept for rollback (credentials.versions); a
# credential may keep fewer. The oldest beyond it are deleted with each change.
CREDENTIAL_MAX_VERSIONS = int(os.environ.get("CREDENTIAL_MAX_VERSIONS", "10"))

# Time-bound access (credentials.access): the longest grant a request may get (a credential may set
# less), how long a request waits for an answer, and how long before a grant's end its holders hear.
ACCESS_REQUEST_MAX_HOURS = int(os.environ.get("ACCESS_REQUEST_MAX_HOURS", "168"))
ACCESS_REQUEST_TTL_HOURS = int(os.environ.get("ACCESS_REQUEST_TTL_HOURS", "72"))
GRANT_ENDING_NOTICE_HOURS = int(os.environ.get("GRANT_ENDING_NOTICE_HOURS", "24"))

# What an SSH private key may ask of us (credentials.types.kdf), read from the key before any work:
# an encrypted key names its own key-derivation cost, and loading an RSA key checks its primes. Each
# parse of a key at a ceiling costs about 1 s on a 2-core 2025 server (bcrypt: 7.4 ms a round;
# PBKDF2: 0.1-0.5 us an iteration, by hash; scrypt: 0.18 s at 64 MiB; RSA's check: 0.26 s at
# 4,096 bits but 4 s at 8,192). Raising one raises what any user can make a worker spend.
SSH_KEY_MAX_BCRYPT_ROUNDS = int(os.environ.get("SSH_KEY_MAX_BCRYPT_ROUNDS", "128"))  # OpenSSH writes 16
SSH_KEY_MAX_PBKDF2_ITERATIONS = int(os.environ.get("SSH_KEY_MAX_PBKDF2_ITERATIONS", "1000000"))  # and PKCS#12's
SSH_KEY_MAX_SCRYPT_MEMORY = int(os.environ.get("SSH_KEY_MAX_SCRYPT_MEMORY", str(64 * 2**20)))  # 128*N*r bytes
SSH_KEY_MAX_SCRYPT_PARALLELISM = int(os.environ.get("SSH_KEY_MAX_SCRYPT_PARALLELISM", "4"))  # p: passes
SSH_KEY_MAX_RSA_BITS = int(os.environ.get("SSH_KEY_MAX_RSA_BITS", "4096"))

# Credential tests (credentials.testers.runs): how long one may run before the sweep calls it failed,
# how many failures in a row flag a credential, and the hour (UTC) of the daily re-test.
CREDENTIAL_TEST_TIME_LIMIT = int(os.environ.get("CREDENTIAL_TEST_TIME_LIMIT", "60"))
CREDENTIAL_TEST_FLAG_AFTER = int(os.environ.get("CREDENTIAL_TEST_FLAG_AFTER", "3"))
CREDENTIAL_RETEST_HOUR = int(os.environ.get("CREDENTIAL_RETEST_HOUR", "3"))

# Plugins (plugins.syncing): where checkouts live (PLUGINS_ROOT/<id>/, with job directories under
# .work/), how long one git operation may take, and a CA file for git servers with a private CA.
PLUGINS_ROOT = Path(os.environ.get("PLUGINS_ROOT", BASE_DIR / "plugins-data"))
PLUGINS_GIT_TIMEOUT = int(os.environ.get("PLUGINS_GIT_TIMEOUT", "600"))
PLUGINS_GIT_CA_FILE = os.environ.get("PLUGINS_GIT_CA_FILE", "")

# Outbound connections (credentials.outbound): every credential test and git sync resolves its host
# once, judges each address, and connects only to the address judged (no DNS rebinding). Link-local
# (169.254.0.0/16 with the cloud metadata services, fe80::/10), cloud metadata, unspecified, multicast
# and broadcast addresses are refused in every mode, listed or not. Loopback, private (RFC 1918,
# 100.64.0.0/10, fc00::/7) and reserved addresses are refused unless listed here (comma-separated
# CIDRs, checked now: a bad entry stops the start), except that DEBUG allows loopback and private.
OUTBOUND_ALLOWED_NETWORKS = parse_networks(env_list("OUTBOUND_ALLOWED_NETWORKS"))

# The audit trail (audit.sealing, audit.checkpoints): how often committed events are linked into
# the chain, how old an unlinked event may be before verification reports it, and where signed
# checkpoints go (stdout for a log shipper, syslog, or a file path to append to) and how often.
AUDIT_SEAL_SECONDS = float(os.environ.get("AUDIT_SEAL_SECONDS", "5"))
AUDIT_LINK_MAX_AGE = int(os.environ.get("AUDIT_LINK_MAX_AGE", "300"))
AUDIT_CHECKPOINT_SINK = os.environ.get("AUDIT_CHECKPOINT_SINK", "stdout")
AUDIT_CHECKPOINT_SECONDS = float(os.environ.get("AUDIT_CHECKPOINT_SECONDS", "300"))

# Notifications (notifications/): e-mail through Django's framework, from the environment's SMTP server
# (the console in the development mode when none is set); webhooks signed per Standard Webhooks, sent
# only where outbound connections may go (above), retried with exponential backoff and jitter, and an
# endpoint disabled after so many failed attempts in a row. SITE_URL makes the links in e-mails.
SITE_URL = os.environ.get("SITE_URL", "http://127.0.0.1:8000" if DEBUG else "")
EMAIL_HOST = os.environ.get("EMAIL_HOST", "")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS")
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL")
EMAIL_TIMEOUT = int(os.environ.get("EMAIL_TIMEOUT", "10"))
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "latchkey@localhost")
EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend"
    if DEBUG and not EMAIL_HOST
    else "django.core.mail.backends.smtp.EmailBackend",
)
if not EMAIL_HOST:
    EMAIL_HOST = "localhost"
WEBHOOK_REQUIRE_HTTPS = env_bool("WEBHOOK_REQUIRE_HTTPS", default=not DEBUG)
WEBHOOK_TIMEOUT_SECONDS = int(os.environ.get("WEBHOOK_TIMEOUT_SECONDS", "10"))
WEBHOOK_MAX_ATTEMPTS = int(os.environ.get("WEBHOOK_MAX_ATTEMPTS", "8"))
WEBHOOK_RETRY_BASE_SECONDS = int(os.environ.get("WEBHOOK_RETRY_BASE_SECONDS", "30"))  # then 60, 120, ...
WEBHOOK_RETRY_MAX_SECONDS = int(os.environ.get("WEBHOOK_RETRY_MAX_SECONDS", "3000"))  # under the broker's hour
WEBHOOK_DISABLE_AFTER = int(os.environ.get("WEBHOOK_DISABLE_AFTER", "24"))  # failed attempts in a row
WEBHOOK_ENDPOINTS_PER_OWNER = int(os.environ.get("WEBHOOK_ENDPOINTS_PER_OWNER", "20"))
WEBHOOK_TESTS_PER_MINUTE = int(os.environ.get("WEBHOOK_TESTS_PER_MINUTE", "5"))  # per endpoint
NOTIFICATION_DIGEST_HOUR = int(os.environ.get("NOTIFICATION_DIGEST_HOUR", "7"))
# Expired credentials are announced only this long after their expiry (credentials.expiry).
EXPIRY_NOTICE_GRACE_DAYS = int(os.environ.get("EXPIRY_NOTICE_GRACE_DAYS", "7"))

# Celery, with Redis as broker. Without a broker (the embedded default) tasks run in-process
# when queued. Tasks take ids and keep their state on our rows: there is no result backend.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# Acknowledged after running, so a worker that dies mid-test leaves the message to be redelivered;
# the tasks are idempotent (a run id on the row), so a redelivery never tests twice.
CELERY_TASK_ACKS_LATE = True
# Tests are slow network calls: a worker takes one at a time rather than hoarding four per process.
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = CREDENTIAL_TEST_TIME_LIMIT
CELERY_TASK_SOFT_TIME_LIMIT = max(CREDENTIAL_TEST_TIME_LIMIT - 10, 1)
# A request must learn quickly that the broker is down (it answers 503), not hang for minutes.
CELERY_BROKER_CONNECTION_TIMEOUT = 3
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5}
CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_connect_timeout": 3, "socket_timeout": 10, "visibility_timeout": 3600}
# Celery's Django fix-up closes the database connection before and after every task unless told
# to reuse it, and each test would pay a second connection; reused as web processes reuse theirs.
CELERY_DB_REUSE_MAX = 100
CELERY_WORKER_HIJACK_ROOT_LOGGER = False  # the LOGGING below, in workers as in web processes
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE = {
    "seal-audit-trail": {"task": "audit.seal", "schedule": AUDIT_SEAL_SECONDS},
    "checkpoint-audit-trail": {"task": "audit.checkpoint", "schedule": AUDIT_CHECKPOINT_SECONDS},
    "sweep-stuck-credential-tests": {"task": "credentials.sweep_stuck_tests", "schedule": 60.0},
    "sweep-stuck-plugin-syncs": {"task": "plugins.sweep_stuck_syncs", "schedule": 60.0},
    # Ended shares removed (they are refused from their end on, sweep or not), unanswered requests expired.
    "sweep-access": {"task": "credentials.sweep_access", "schedule": 60.0},
    "sweep-expiry": {"task": "credentials.sweep_expiry", "schedule": 3600.0},
    "fan-out-waiting-notifications": {"task": "notifications.fan_out_waiting", "schedule": 60.0},
    "requeue-waiting-deliveries": {"task": "notifications.requeue_waiting", "schedule": 60.0},
    "send-notification-digests": {
        "task": "notifications.send_digests",
        "schedule": crontab(minute=0, hour=NOTIFICATION_DIGEST_HOUR),
    },
    "retest-credentials-daily": {
        "task": "credentials.retest_scheduled",
        "schedule": crontab(minute=0, hour=CREDENTIAL_RETEST_HOUR),
    },
}

# The site's pages: Django's login views, then the credential list.
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "credentials:list"
LOGOUT_REDIRECT_URL = "login"

# Content Security Policy (django-csp): the pages load their one stylesheet and scripts from this
# site and run no inline script, so an injected <script> or handler would not run. The admin runs
# under the same policy; the API docs (drf-spectacular's split view, made for this) also allow
# inline styles (config/urls.py). The browser tests fail on any refusal in the console.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# Cookies and framing: strict outside DEBUG, where the site is served over HTTPS.
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", default=not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if env_bool("BEHIND_TLS_PROXY"):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# The client's address, for throttling, lockout and audit alike (config.addresses.client_ip): the
# number of proxies in front of gunicorn that append to X-Forwarded-For. 0 (the default): the header
# is ignored and the connection's address is the client's. N: the Nth entry from the right, written
# by our own proxies; anything left of it is the client's invention and never read.
_trusted_proxy_count = os.environ.get("TRUSTED_PROXY_COUNT", "").strip() or "0"
if not (_trusted_proxy_count.isascii() and _trusted_proxy_count.isdigit()):
    raise ImproperlyConfigured(
        "TRUSTED_PROXY_COUNT must be a whole number of proxies in front of the site (0 or more, "
        "0 when gunicorn is reached directly); see the README's production section."
    )
TRUSTED_PROXY_COUNT = int(_trusted_proxy_count)
AXES_CLIENT_IP_CALLABLE = "config.addresses.client_ip"

# Failed logins (admin, pages, API token): locked out per user and address, kept in the database
# so that every process sees the same count.
AXES_FAILURE_LIMIT = int(os.environ.get("LOGIN_FAILURE_LIMIT", "10"))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("LOGIN_COOLOFF_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "config.lockout.lockout_response"

# Sharing: guardian's direct foreign-key models; no anonymous user is created.
ANONYMOUS_USER_NAME = None
GUARDIAN_MONKEY_PATCH_USER = False
GUARDIAN_MONKEY_PATCH_GROUP = False

# The JSON API: JSON only, token (hashed, expiring) or session authentication, paginated.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "config.api.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["config.api.parsers.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PAGINATION_CLASS": "config.api.pagination.PageNumberPagination",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "config.api.errors.exception_handler",
    "DEFAULT_THROTTLE_RATES": {
        "auth_token": os.environ.get("TOKEN_RATE_LIMIT", "20/min"),
        # Each fetch of SSH host keys connects out (several handshakes): per signed-in user.
        "ssh_host_keys": os.environ.get("HOST_KEY_FETCH_RATE_LIMIT", "10/min"),
        # The share form's pickers search as the user types (a pause of 250 ms between searches).
        "share_candidates": os.environ.get("SHARE_SEARCH_RATE_LIMIT", "60/min"),
    },
    # Our throttles key on config.addresses.client_ip; DRF's stock ones, if ever used, agree with it.
    "NUM_PROXIES": TRUSTED_PROXY_COUNT,
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
REST_KNOX = {
    "TOKEN_TTL": timedelta(hours=int(os.environ.get("API_TOKEN_TTL_HOURS", "10"))),
    "AUTH_HEADER_PREFIX": "Token",
    "TOKEN_PREFIX": "lk_",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Latchkey API",
    "DESCRIPTION": "Store secrets once; use them without seeing them. Secret fields are write-only.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "SharePermissionEnum": ["use", "view", "change"],
        "CredentialActionEnum": ["use", "view", "change", "delete", "share"],
        "NotificationScopeEnum": "notifications.kinds.Scope",
        "WebhookScopeEnum": ["user", "team", "global"],
    },
}

# Error reports (the DEBUG page, 500 e-mails) never carry local values: any frame may hold a secret.
DEFAULT_EXCEPTION_REPORTER_FILTER = "config.reporting.NoValuesExceptionReporterFilter"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    # axes logs every successful login at INFO; its warnings (lockouts) are what an operator needs.
    "loggers": {"axes": {"level": "WARNING"}},
}
