"""Django settings for WorkflowQL, read from the environment.

Environment variables:
- ``DATABASE_URL``: database (default: SQLite file ``db.sqlite3`` beside ``manage.py``).
- ``REDIS_URL``: channel layer; unset means the in-memory layer (one process only).
- ``SECRET_KEY``: required when ``DEBUG`` is off.
- ``DEBUG``: ``1``/``true`` turns on debug mode and GraphiQL.
- ``ALLOWED_HOSTS``: comma-separated host names.
- ``CORS_ALLOWED_ORIGINS``: comma-separated origins (``https://app.example.com``) whose pages
  may call the API from the browser; the same list may open WebSockets. Empty by default.
- ``BEHIND_PROXY``: ``1`` when a reverse proxy terminates TLS and sets ``X-Forwarded-Proto``.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_flag(name: str, default: bool = False) -> bool:
    """Read a boolean environment variable."""
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


DEBUG = env_flag("DEBUG", default=False)

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    # The well-known development key signs sessions and CSRF tokens anyone could forge, so
    # it is for DEBUG only; no switch allows it in production.
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY must be set when DEBUG is off"
            + (
                " (WORKFLOWQL_ALLOW_INSECURE_KEY is refused without DEBUG)."
                if env_flag("WORKFLOWQL_ALLOW_INSECURE_KEY")
                else "."
            )
        )
    SECRET_KEY = "insecure-development-key-do-not-use-in-production"

ALLOWED_HOSTS = [
    host.strip()
    for host in os.environ.get(
        "ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver" if DEBUG else ""
    ).split(",")
    if host.strip()
]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "corsheaders",
    "strawberry_django",
    "approval_workflow",
    "backend.accounts",
    "backend.workflows",
    "backend.demo",
]

# Django's middleware, with hooks that run on the event loop when they cannot block
# (backend/loop_middleware.py): the same behaviour, without a thread hop per hook.
MIDDLEWARE = [
    "backend.loop_middleware.SecurityMiddleware",
    # Static files before sessions and auth: they need neither (backend/static_files.py).
    "backend.static_files.StaticFilesMiddleware",
    # Before CommonMiddleware, whose redirects would otherwise lack the CORS headers.
    "corsheaders.middleware.CorsMiddleware",
    "backend.loop_middleware.SessionMiddleware",
    "backend.loop_middleware.CommonMiddleware",
    "backend.loop_middleware.CsrfViewMiddleware",
    "backend.loop_middleware.AuthenticationMiddleware",
    "backend.loop_middleware.MessageMiddleware",
    "backend.loop_middleware.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "backend.urls"
ASGI_APPLICATION = "backend.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        # Persistent connections are not reused under ASGI (see the pool below); 0 closes
        # each request's connection when the request ends.
        conn_max_age=int(os.environ.get("CONN_MAX_AGE", "0")),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Under ASGI each request runs its ORM work in a thread of its own, and connections belong
    # to threads: persistent connections (CONN_MAX_AGE > 0) are then rarely reused and pile up
    # until PostgreSQL refuses new ones. A per-process psycopg pool bounds them and still
    # saves the connect on every request. DB_POOL_MAX_SIZE=0 turns the pool off (then
    # CONN_MAX_AGE applies, e.g. behind PgBouncer).
    _pool_size = int(os.environ.get("DB_POOL_MAX_SIZE", "10"))
    if _pool_size > 0:
        DATABASES["default"]["CONN_MAX_AGE"] = 0
        DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": 1,
            "max_size": _pool_size,
            "timeout": float(os.environ.get("DB_POOL_TIMEOUT", "10")),
        }
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # SQLite ignores select_for_update; BEGIN IMMEDIATE takes the write lock when a transaction
    # starts, so concurrent decisions queue (up to the timeout) instead of reading a state that
    # changes under them and failing with "database is locked" when they write.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE"}
    )
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / "test-db.sqlite3")}
    DATABASES["default"]["CONN_MAX_AGE"] = 0

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

REDIS_URL = os.environ.get("REDIS_URL", "")
# Longer than channels-redis's 5 s blocking read (BZPOPMIN), which it must never cut short.
REDIS_SOCKET_TIMEOUT_SECONDS = 10
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                # Fail fast when Redis is unreachable (connect timeout) or hung (socket
                # timeout): a consumer's BZPOPMIN blocks for 5 s by design, so a read
                # waits at most twice that before the socket is closed with 1013.
                "hosts": [
                    {
                        "address": REDIS_URL,
                        "socket_connect_timeout": 2,
                        "socket_timeout": REDIS_SOCKET_TIMEOUT_SECONDS,
                    }
                ],
                "capacity": 1500,
                "expiry": 30,
            },
        }
    }
else:
    # One process only (see backend/channel_layers.py): set REDIS_URL for several workers.
    CHANNEL_LAYERS = {"default": {"BACKEND": "backend.channel_layers.FanOutInMemoryChannelLayer"}}

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("ar", "Arabic")]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# Where collectstatic puts the files WhiteNoise serves in production.
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT") or BASE_DIR / "staticfiles")
# GraphiQL, React and graphql-ws, shipped by a package, served at /static/graphiql/ (no CDN).
STATICFILES_DIRS = [
    (
        "graphiql",
        Path(importlib.util.find_spec("graphene_django_graphiql_static").origin).parent  # type: ignore[arg-type,union-attr]
        / "static"
        / "graphene_django_graphiql_static",
    )
]
# The app serves its static files itself (WhiteNoise): from STATIC_ROOT after
# ``manage.py collectstatic`` (production), else straight from the apps' static folders.
WHITENOISE_USE_FINDERS = DEBUG or not STATIC_ROOT.is_dir()

LOGIN_URL = "/admin/login/"

# Production safety: secure cookies and HSTS when not debugging.
if not DEBUG:
    SESSION_COOKIE_SECURE = env_flag("SECURE_COOKIES", default=True)
    CSRF_COOKIE_SECURE = env_flag("SECURE_COOKIES", default=True)
    SECURE_CONTENT_TYPE_NOSNIFF = True
    SECURE_REFERRER_POLICY = "same-origin"
    X_FRAME_OPTIONS = "DENY"
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "0"))
# Trust X-Forwarded-Proto only behind a proxy that sets it: reached directly, a client could
# send the header itself and pass a plain-HTTP request off as HTTPS.
BEHIND_PROXY = env_flag("BEHIND_PROXY")
if BEHIND_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
CSRF_TRUSTED_ORIGINS = [
    origin.strip()
    for origin in os.environ.get("CSRF_TRUSTED_ORIGINS", "").split(",")
    if origin.strip()
]

# Browsers on these origins may call /graphql (django-cors-headers answers their preflight);
# pages of any other origin get no CORS headers. The WebSocket endpoint accepts the same
# origins (besides same-origin pages and clients that send no Origin).
CORS_ALLOWED_ORIGINS = [
    origin.strip()
    for origin in os.environ.get("CORS_ALLOWED_ORIGINS", "").split(",")
    if origin.strip()
]
CORS_URLS_REGEX = r"^/graphql/?$"
GRAPHQL_WS_ALLOWED_ORIGINS = CORS_ALLOWED_ORIGINS

EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "workflows@localhost")

# django-approval-workflow: roles are auth.Group, found through User.groups.
APPROVAL_ROLE_MODEL = "auth.Group"
APPROVAL_ROLE_FIELD = "groups"
# One explicit handler for every model; the engine drives transitions itself.
APPROVAL_HANDLER_DISCOVERY_FUNCTION = "backend.workflows.approvals.get_approval_handler"

DJANGO_WORKFLOW_ENGINE = {
    "DEPARTMENT_MODEL": "demo.Department",
    # The form model approvals may require (APPROVAL_DYNAMIC_FORM_MODEL is read when unset).
    "FORM_MODEL": None,
    "ENABLED_MODELS": ["demo.PurchaseRequest", "demo.Ticket", "demo.Opportunity"],
    "DEFAULT_STATUS_FIELD": "workflow_status",
    "MODEL_WORKFLOW_MAPPINGS": {},
    "AUTO_START_WORKFLOWS": {},
    "PERMISSIONS": {
        "REQUIRE_PERMISSION_TO_START": False,
        "REQUIRE_PERMISSION_TO_APPROVE": False,
    },
}

# Set by ``manage.py serve --demo`` (or DEBUG): the landing page lists the demo users.
WORKFLOWQL_DEMO = env_flag("WORKFLOWQL_DEMO")

# schema/execution/fast_fields.py: execution shortcuts for plain fields (off: graphql-core's own path).
GRAPHQL_EXECUTION_SHORTCUTS = env_flag("GRAPHQL_EXECUTION_SHORTCUTS", default=True)
# schema/execution/structure_cache.py: the `workflows` list kept per process until a database
# trigger marks a change of what it shows (off: built at every request). The bound is the JSON
# size of the kept answers; their Python objects take about three to five times as much.
GRAPHQL_STRUCTURE_CACHE = env_flag("GRAPHQL_STRUCTURE_CACHE", default=True)
GRAPHQL_STRUCTURE_CACHE_BYTES = int(
    os.environ.get("GRAPHQL_STRUCTURE_CACHE_BYTES", str(64 * 1024 * 1024))
)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
    "loggers": {
        # approval_workflow logs at INFO on every save; keep it quiet by default.
        "approval_workflow": {"level": "WARNING"},
        "backend": {"level": os.environ.get("LOG_LEVEL", "INFO")},
        # One line per refused request (schema.errors.log_errors); unexpected errors are
        # logged at ERROR with their traceback.
        "schema": {"level": os.environ.get("LOG_LEVEL", "INFO")},
        # Django's own console handler (DEBUG) would print each record a second time.
        "django": {"handlers": ["console"], "level": "INFO", "propagate": False},
        # A 404 or 400 is already a line of the server's access log; errors (5xx) stay.
        "django.request": {"level": "ERROR"},
    },
}
