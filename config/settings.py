"""Gamify settings: every value comes from the environment (12-factor).

With nothing set, Gamify runs embedded: SQLite in the project folder, Celery tasks in-process
and a local-memory cache. `.env.example` documents every variable. A bad value stops start-up
with a message that names the variable.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import django_stubs_ext
import environ
from django.core.exceptions import ImproperlyConfigured
from kombu import Queue

# Lets Django's generic classes be subscripted at run time (ModelAdmin[Agent], QuerySet[Team]).
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)


_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off", ""}


def _read(name: str, cast: Any, default: Any) -> Any:
    """Read one variable, turning any parse error into a message naming it."""
    if cast is bool and name in os.environ:
        raw = os.environ[name].strip().lower()
        if raw not in _TRUE | _FALSE:
            raise ImproperlyConfigured(f"{name}: expected true or false, got {raw!r}")
        return raw in _TRUE
    try:
        return env(name, cast=cast, default=default)
    except (ValueError, TypeError, ImproperlyConfigured) as exc:
        raise ImproperlyConfigured(f"{name}: invalid value ({exc})") from exc


DEBUG: bool = _read("DEBUG", bool, False)
_secret = env.str("SECRET_KEY", default="")
if not _secret and DEBUG:
    _secret = "insecure-development-key-only-for-make-run"  # noqa: S105 - DEBUG only
# Without DEBUG there is no default: serving (wsgi, asgi, Celery) refuses to start without it
# (core/guards.py), while commands that need no secret (migrate, makemigrations) still run.
SECRET_KEY = _secret
ALLOWED_HOSTS: list[str] = _read("ALLOWED_HOSTS", list, ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS: list[str] = _read("CSRF_TRUSTED_ORIGINS", list, [])

# --- database -------------------------------------------------------------------------------
_DATABASE_SCHEMES = {"postgres", "postgresql", "pgsql", "sqlite"}


def _database(url: str | None) -> dict[str, Any]:
    if not url:
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(BASE_DIR / "db.sqlite3"),
        }
    parts = urlsplit(url)
    if parts.scheme not in _DATABASE_SCHEMES:
        raise ImproperlyConfigured(
            f"DATABASE_URL: unsupported scheme {parts.scheme!r} (use postgres:// or sqlite://)"
        )
    try:
        parts.port  # noqa: B018 - raises ValueError for a non-integer port
        config: dict[str, Any] = environ.Env.db_url_config(url)
    except ValueError as exc:
        raise ImproperlyConfigured(f"DATABASE_URL: invalid value ({exc})") from exc
    if parts.scheme == "sqlite" and config["NAME"] in ("", ":memory:"):
        raise ImproperlyConfigured(
            "DATABASE_URL: give SQLite a file path, e.g. sqlite:///db.sqlite3"
        )
    return config


_db = _database(env.str("DATABASE_URL", default="") or None)
if _db["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets readers run beside the one writer; IMMEDIATE transactions take the write lock up
    # front, so two concurrent writers queue on `timeout` instead of failing with "database is
    # locked" when a read lock would have to be upgraded.
    _db["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
else:
    _db["CONN_MAX_AGE"] = _read("CONN_MAX_AGE", int, 60)
    _db["CONN_HEALTH_CHECKS"] = True
DATABASES = {"default": _db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USING_POSTGRES = _db["ENGINE"].endswith("postgresql")

# --- redis, cache, celery -------------------------------------------------------------------
REDIS_URL: str = env.str("REDIS_URL", default="")
if REDIS_URL:
    _redis = urlsplit(REDIS_URL)
    if _redis.scheme not in {"redis", "rediss", "unix"}:
        raise ImproperlyConfigured(f"REDIS_URL: unsupported scheme {_redis.scheme!r}")
    try:
        _redis.port  # noqa: B018
    except ValueError as exc:
        raise ImproperlyConfigured(f"REDIS_URL: invalid value ({exc})") from exc

# Keys of this deployment in Redis start with this prefix. Parallel test workers (pytest-xdist)
# share one Redis database, so each gets its own prefix.
REDIS_KEY_PREFIX: str = env.str("REDIS_KEY_PREFIX", default="gamify") + (
    f":{os.environ['PYTEST_XDIST_WORKER']}" if os.environ.get("PYTEST_XDIST_WORKER") else ""
)

if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": REDIS_KEY_PREFIX,
            # A Redis outage must not fail requests: rate limits then fail open.
            "OPTIONS": {
                "SOCKET_CONNECT_TIMEOUT": 1,
                "SOCKET_TIMEOUT": 1,
                "IGNORE_EXCEPTIONS": True,
            },
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

CELERY_BROKER_URL = REDIS_URL or "memory://localhost/"
# Without a broker, tasks run in-process right after the transaction that enqueued them commits.
CELERY_TASK_ALWAYS_EAGER: bool = _read("CELERY_TASK_ALWAYS_EAGER", bool, not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT: int = _read("CELERY_TASK_SOFT_TIME_LIMIT", int, 300)
CELERY_TASK_TIME_LIMIT: int = _read("CELERY_TASK_TIME_LIMIT", int, 360)
# A request must not hang on a dead broker: the event is already stored and the sweeper
# re-enqueues it, so one quick attempt is enough.
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2}
CELERY_BROKER_CONNECTION_TIMEOUT = 2
# A PING every 10 s keeps the broker connections honest, so a worker notices a restarted or
# silently dropped Redis and reconnects instead of waiting on a dead socket.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "socket_connect_timeout": 2,
    "socket_timeout": 5,
    "socket_keepalive": True,
    "health_check_interval": 10,
}
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_DEFAULT_QUEUE = "default"
# Every queue a route names is declared here, so that the plain `celery -A config worker`
# consumes all of them (a worker without -Q consumes the declared queues; without this list,
# only the default one, and events stayed pending for ever). `-Q ingest` and the like still
# split them across workers. Routes are tried in order: the narrower pattern first.
CELERY_TASK_QUEUES = [
    Queue(name, routing_key=name) for name in ("default", "ingest", "game", "webhooks")
]
CELERY_TASK_ROUTES = [
    {
        "gamify.webhook*": {"queue": "webhooks"},
        "gamify.tasks.webhook*": {"queue": "webhooks"},
        "kpis.*": {"queue": "ingest"},
        "gamify.*": {"queue": "game"},
    }
]
# django-celery-beat's database scheduler, which waits for the database when it starts
# (core/beat.py).
CELERY_BEAT_SCHEDULER = "core.beat:WaitingDatabaseScheduler"
CELERY_TIMEZONE = "UTC"
# The periodic jobs: registered once here, run by `celery -A config beat` in production and
# by `manage.py run_periodic` in the embedded default.
CELERY_BEAT_SCHEDULE: dict[str, dict[str, Any]] = {
    "sweep-pending-events": {
        "task": "kpis.sweep_pending",
        "schedule": timedelta(seconds=15),
    },
    "finalize-periods": {
        "task": "gamify.finalize_periods",
        "schedule": timedelta(minutes=1),
    },
    "coaching-close-periods": {
        "task": "gamify.coaching_close_periods",
        "schedule": timedelta(minutes=1),
    },
    "advance-contests": {
        "task": "gamify.advance_contests",
        "schedule": timedelta(minutes=1),
    },
    # Webhook retries that are due, deliveries whose task was lost, leases of dead workers.
    "sweep-webhook-deliveries": {
        "task": "gamify.webhooks_sweep",
        "schedule": timedelta(seconds=30),
    },
    # Finished deliveries and their attempts older than WEBHOOKS_RETENTION_DAYS.
    "purge-webhook-deliveries": {
        "task": "gamify.webhooks_purge",
        "schedule": timedelta(hours=1),
    },
    "purge-idempotency-keys": {
        "task": "accounts.tasks.purge_idempotency_keys",
        "schedule": timedelta(hours=1),
    },
}

# Batches still unapplied this long after they were stored are re-enqueued by the sweeper.
SWEEP_AFTER_SECONDS: int = _read("SWEEP_AFTER_SECONDS", int, 10)

# --- applications ---------------------------------------------------------------------------
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_api_key",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "csp",
    "core",
    "axes",
    "config",
    "accounts",
    "accounts.audit",
    "kpis",
    "gamify",
    "gamify.activity",
    "gamify.wallet",
    "gamify.game",
    "gamify.contests",
    "gamify.coaching",
    "gamify.widgets",
    "gamify.webhooks",
    "gamify.game_templates",
]

MIDDLEWARE = [
    "core.metrics.PrometheusMiddleware",
    "core.api.problems.ProblemDetailsMiddleware",
    "core.middleware.NullCharacterMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The admin's language: the manager's choice (the language menu in the admin's header, a
    # cookie), else the browser's Accept-Language, among LANGUAGES. The API stays English;
    # widgets choose their own (the agent's locale, ?lang=) per page.
    "core.middleware.AdminLocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "core.middleware.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Fail-closed tenancy: a clean scope per request; the admin's is its user's tenants.
    "accounts.scoping.TenantScopeMiddleware",
    "accounts.audit.middleware.ActorMiddleware",
    "core.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "core.security.CSPMiddleware",
    # Last: turns a login that django-axes refused into the lockout page.
    "axes.middleware.AxesMiddleware",
]

# --- admin login ------------------------------------------------------------------------------
# django-axes counts failed admin logins per user name and address: after
# ADMIN_LOGIN_FAILURE_LIMIT of them, that pair is refused (429 and a page saying why and for
# how long) for ADMIN_LOGIN_COOLOFF_MINUTES, even with the right password. Counted in the
# database, so every web process (and the embedded default) shares the count.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT: int = _read("ADMIN_LOGIN_FAILURE_LIMIT", int, 5)
AXES_COOLOFF_TIME = timedelta(minutes=_read("ADMIN_LOGIN_COOLOFF_MINUTES", int, 15))
# Both together: a stranger guessing one manager's password from one address cannot lock
# that manager out everywhere.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_ONLY_ADMIN_SITE = True
AXES_LOCKOUT_CALLABLE = "core.security.login_locked"
# Behind N trusted proxies, the client's address is the N-th X-Forwarded-For entry from the
# right (the one the outermost proxy saw); with 0, the socket's address.
TRUSTED_PROXY_COUNT: int = _read("TRUSTED_PROXY_COUNT", int, 0)
AXES_CLIENT_IP_CALLABLE = "core.security.client_ip"

# Django's CSRF check looks for its middleware by name; config/guards.py checks our subclass
# (which skips only /api/, where DRF enforces CSRF for session-authenticated requests).
SILENCED_SYSTEM_CHECKS = ["security.W003"]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "config" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en"
# The four languages of the product (widgets and the managers' admin); Persian is written
# right to left (Django's bidi list), so the admin renders dir="rtl" in it.
LANGUAGES = [
    ("en", "English"),
    ("zh-hans", "简体中文"),
    ("zh-hant", "繁體中文"),
    ("fa", "فارسی"),
]
# The admin pages' strings (gamify/widgets keeps its own catalogue, gamify/widgets/locale).
LOCALE_PATHS = [BASE_DIR / "config" / "locale"]
LANGUAGE_COOKIE_AGE = 365 * 24 * 3600
LANGUAGE_COOKIE_SAMESITE = "Lax"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
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
WHITENOISE_USE_FINDERS = DEBUG

# Largest request body accepted (bytes); a bigger one is a 413. A full batch of 1000 events
# is well under 1 MB.
DATA_UPLOAD_MAX_MEMORY_SIZE: int = _read("MAX_REQUEST_BYTES", int, 4 * 1024 * 1024)

SECURE_CONTENT_TYPE_NOSNIFF = True
# Links from admin or widget pages never send the page's URL (which may carry a widget
# token in its query) to another origin.
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# The deployment is served over HTTPS (TLS ended here or at a proxy that sets
# X-Forwarded-Proto): plain HTTP is redirected, and browsers are told to use HTTPS only (HSTS).
# Health and metrics stay reachable over plain HTTP for load balancers and scrapers.
BEHIND_TLS: bool = _read("BEHIND_TLS", bool, False)
SECURE_SSL_REDIRECT = BEHIND_TLS
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
SECURE_HSTS_SECONDS: int = _read("HSTS_SECONDS", int, 31_536_000) if BEHIND_TLS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS: bool = BEHIND_TLS and _read("HSTS_INCLUDE_SUBDOMAINS", bool, True)
SECURE_HSTS_PRELOAD: bool = BEHIND_TLS and _read("HSTS_PRELOAD", bool, True)
# Cookies only over HTTPS outside development; set SECURE_COOKIES=false to try a production
# build over plain HTTP on localhost.
SESSION_COOKIE_SECURE: bool = _read("SECURE_COOKIES", bool, not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
LANGUAGE_COOKIE_SECURE = SESSION_COOKIE_SECURE
CONTENT_SECURITY_POLICY = {
    # JSON answers render no HTML: building the header for them is wasted work on the hot path.
    "EXCLUDE_URL_PREFIXES": ["/api/v1/"],
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "img-src": ["'self'", "data:", "https:"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "script-src": ["'self'"],
        "connect-src": ["'self'"],
    },
}

# --- REST API -------------------------------------------------------------------------------
API_RATE_LIMIT_PER_MINUTE: int = _read("API_RATE_LIMIT_PER_MINUTE", int, 6000)
API_PAGE_SIZE: int = _read("API_PAGE_SIZE", int, 50)
API_MAX_PAGE_SIZE = 500
IDEMPOTENCY_KEY_TTL = timedelta(hours=24)
WIDGET_TOKEN_MAX_TTL_SECONDS = 86400

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.api.auth.BearerAuthentication",
        "accounts.api.auth.ManagerSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["accounts.api.auth.HasScope"],
    "DEFAULT_THROTTLE_CLASSES": ["core.api.throttling.PerCredentialRateThrottle"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "core.api.negotiation.JSONContentNegotiation",
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "core.api.pagination.CursorPagination",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "core.api.problems.exception_handler",
    "COERCE_DECIMAL_TO_STRING": False,
    "DATETIME_FORMAT": "iso-8601",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Gamify API",
    "DESCRIPTION": (
        "Gamification-as-a-service for contact centers. Errors are RFC 9457 problem details "
        "(application/problem+json). Authenticate with `Authorization: Bearer <api key>`."
    ),
    "VERSION": "1.0.0",
    # 3.1: the event models come from pydantic, whose JSON Schema uses `type: null`.
    "OAS_VERSION": "3.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "SERVE_AUTHENTICATION": [],
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "ENUM_NAME_OVERRIDES": {
        "ContestStatusEnum": "gamify.contests.models.Contest.Status",
        "ImportStatusEnum": "kpis.models.ImportJob.Status",
        "RedemptionStatusEnum": "gamify.wallet.models.RedemptionStatus",
        "LedgerKindEnum": "gamify.wallet.models.LedgerKind",
        # badge criteria: a streak runs over days or weeks; a count also over a lifetime
        "PeriodEnum": ["day", "week", "month"],
        "StreakPeriodEnum": ["day", "week"],
        "CountPeriodEnum": ["day", "week", "month", "lifetime"],
        "AlertKindEnum": ["exceeds", "behind"],
        "KpiUnitEnum": "kpis.models.Kpi.Unit",
        "KpiDirectionEnum": "kpis.models.Kpi.Direction",
        "GoalPeriodEnum": ["day", "week", "month", "quarter"],
    },
}

# --- webhooks, observability ----------------------------------------------------------------
WEBHOOKS_ALLOW_PRIVATE_NETWORKS: bool = _read("WEBHOOKS_ALLOW_PRIVATE_NETWORKS", bool, False)
# Plain http:// receivers (the demo's and the tests' local ones); https only otherwise.
WEBHOOKS_ALLOW_HTTP: bool = _read("WEBHOOKS_ALLOW_HTTP", bool, False)
# Seconds to connect, and to wait for each read, of a delivery: a slow receiver holds a worker
# for about this long, never more than twice it.
WEBHOOKS_TIMEOUT_SECONDS: float = _read("WEBHOOKS_TIMEOUT_SECONDS", float, 5.0)
# Deliveries to one endpoint in flight at once, across all workers: a slow receiver takes at
# most this many worker slots, so other tenants' deliveries keep going.
WEBHOOKS_CONCURRENCY_PER_ENDPOINT: int = _read("WEBHOOKS_CONCURRENCY_PER_ENDPOINT", int, 2)
# With in-process tasks (no REDIS_URL), deliveries are sent by this many threads of the process
# that wrote them, so no request waits on a receiver; 0 sends them inline, after the commit.
WEBHOOKS_IN_PROCESS_THREADS: int = _read("WEBHOOKS_IN_PROCESS_THREADS", int, 4)
if WEBHOOKS_IN_PROCESS_THREADS < 0:
    raise ImproperlyConfigured("WEBHOOKS_IN_PROCESS_THREADS: expected 0 or more")
# Finished deliveries (succeeded, or failed for good) and their attempts are purged this many
# days after they finished; pending ones never are.
WEBHOOKS_RETENTION_DAYS: int = _read("WEBHOOKS_RETENTION_DAYS", int, 30)
if WEBHOOKS_RETENTION_DAYS < 1:
    raise ImproperlyConfigured("WEBHOOKS_RETENTION_DAYS: expected at least 1")
if WEBHOOKS_TIMEOUT_SECONDS <= 0 or WEBHOOKS_TIMEOUT_SECONDS > 60:
    raise ImproperlyConfigured("WEBHOOKS_TIMEOUT_SECONDS: expected a number of seconds in (0, 60]")
if WEBHOOKS_CONCURRENCY_PER_ENDPOINT < 1:
    raise ImproperlyConfigured("WEBHOOKS_CONCURRENCY_PER_ENDPOINT: expected at least 1")

LOG_LEVEL: str = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    # Widget pages carry their token in the query string: it never reaches a log line.
    "filters": {"redact_tokens": {"()": "core.logs.RedactTokens"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["redact_tokens"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.request": {"level": "ERROR"},
        # runserver's request lines: explicitly through the redacting console handler (Django's
        # default stops them propagating, and without a handler they went out unfiltered).
        "django.server": {"level": "WARNING", "handlers": ["console"], "propagate": False},
        # One line per task succeeded is noise at our rates; failures still log.
        "celery.app.trace": {"level": "WARNING"},
        # django-axes announces itself on every start (each command too).
        "axes.apps": {"level": "WARNING"},
    },
}
