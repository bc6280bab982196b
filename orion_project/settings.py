"""Settings for Orion on Django: one module, every value from the environment.

There is no separate production module: the same code runs everywhere and the
environment decides (see README "Configuration"). Values that do not parse are
reported by the system check ``orion.E001`` rather than silently ignored.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from orion_project.config import (
    DEFAULT_POOL_TIMEOUT_SECONDS,
    DEFAULT_SQLITE_BUSY_TIMEOUT_SECONDS,
    database_from_url,
    env_bool,
    env_choice,
    env_int,
    env_list,
    env_str,
    sqlite_database,
)

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(env_str("ORION_DATA_DIR", str(BASE_DIR / "data"))).resolve()

DEV_SECRET_KEY = "orion-on-django-development-key-change-me-in-production-0123456789"
SECRET_KEY = env_str("DJANGO_SECRET_KEY", DEV_SECRET_KEY)
DEBUG = env_bool("DJANGO_DEBUG", False)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])

ORION_HOST = env_str("ORION_HOST", "127.0.0.1")
ORION_PORT = env_int("ORION_PORT", 4200, minimum=1)
# The Prefect server version answered on /api/admin/version: that of the 2.20 server, whose
# route set this server serves and whose dashboard it ships by default (the UI's Settings
# page shows it). Neither stock client reads it; both check only the REST API version below,
# which they send in X-PREFECT-API-VERSION and which 2.7.12 and 2.20 share.
ORION_SERVER_VERSION = env_str("ORION_SERVER_VERSION", "2.20.26")
ORION_API_VERSION = "0.8.4"
ORION_MIN_API_VERSION = "0.8.0"
# The Prefect UI (``manage.py orion_ui install``) lives here and is served at ``/``; it
# finds the API at ORION_UI_API_URL (relative by default, as the reference's ``/api``).
ORION_UI_DIR = Path(env_str("ORION_UI_DIR", str(DATA_DIR / "ui"))).resolve()
ORION_UI_API_URL = env_str("ORION_UI_API_URL", "/api")
# Default page size of every POST .../filter route; also its maximum (reference §E).
ORION_API_DEFAULT_LIMIT = env_int("ORION_API_DEFAULT_LIMIT", 200, minimum=1)
# Input limits: a request body larger than this is refused with 413 before it is read, and
# one ``POST /logs/`` batch may hold at most this many log lines (the stock clients send
# batches of at most 4 MB, far fewer lines than this).
ORION_MAX_REQUEST_BODY_BYTES = env_int("ORION_MAX_REQUEST_BODY_BYTES", 10 * 1024 * 1024, minimum=1024)
ORION_MAX_LOG_BATCH = env_int("ORION_MAX_LOG_BATCH", 20_000, minimum=1)

# Serving (manage.py orion_start; reasoning and figures in docs/performance.md "Serving").
# 0 workers = one per usable core.
ORION_WEB_WORKERS = env_int("ORION_WEB_WORKERS", 0, minimum=0)
ORION_WEB_THREADS = env_int("ORION_WEB_THREADS", 8, minimum=1)
ORION_WEB_KEEPALIVE_SECONDS = env_int("ORION_WEB_KEEPALIVE_SECONDS", 30, minimum=0)
ORION_ACCESS_LOG = env_bool("ORION_ACCESS_LOG", False)

# Background services (reference §F.7 and its PREFECT_ORION_SERVICES_* defaults).
ORION_SCHEDULER_INTERVAL_SECONDS = env_int("ORION_SCHEDULER_INTERVAL_SECONDS", 60, minimum=1)
ORION_SCHEDULER_MAX_RUNS = env_int("ORION_SCHEDULER_MAX_RUNS", 100, minimum=1)
ORION_SCHEDULER_MIN_RUNS = env_int("ORION_SCHEDULER_MIN_RUNS", 3, minimum=0)
ORION_SCHEDULER_MAX_SCHEDULED_SECONDS = env_int("ORION_SCHEDULER_MAX_SCHEDULED_SECONDS", 100 * 24 * 3600, minimum=1)
ORION_SCHEDULER_MIN_SCHEDULED_SECONDS = env_int("ORION_SCHEDULER_MIN_SCHEDULED_SECONDS", 3600, minimum=0)
# Deployments claimed per transaction: small, so a first pass (up to 100 runs per
# deployment) never holds SQLite's write lock for long.
ORION_SCHEDULER_BATCH_SIZE = env_int("ORION_SCHEDULER_BATCH_SIZE", 10, minimum=1)
ORION_LATE_RUNS_INTERVAL_SECONDS = env_int("ORION_LATE_RUNS_INTERVAL_SECONDS", 5, minimum=1)
ORION_LATE_RUNS_AFTER_SECONDS = env_int("ORION_LATE_RUNS_AFTER_SECONDS", 5, minimum=0)
# How often the services free tag concurrency slots whose holder is gone (runs_app.services.slots).
ORION_SLOTS_INTERVAL_SECONDS = env_int("ORION_SLOTS_INTERVAL_SECONDS", 10, minimum=1)
# Retention (docs/operations.md): finished runs older than this many days are pruned once a
# day by the services loop; 0 (the default) keeps everything.
ORION_RETENTION_DAYS = env_int("ORION_RETENTION_DAYS", 0, minimum=0)
ORION_RETENTION_INTERVAL_SECONDS = env_int("ORION_RETENTION_INTERVAL_SECONDS", 24 * 3600, minimum=60)
# The audit trail (access_app.services.audit.audit_prune): events older than this many days
# are pruned by the retention pass; 0 keeps them all.
ORION_AUDIT_RETENTION_DAYS = env_int("ORION_AUDIT_RETENTION_DAYS", 365, minimum=0)
# The event log (events_app.services.retention): events that occurred more than this many
# days ago are pruned by the retention pass (the reference keeps 7); 0 keeps them all.
ORION_EVENTS_RETENTION_DAYS = env_int("ORION_EVENTS_RETENTION_DAYS", 7, minimum=0)
# Whether every API write gets its audit row (one INSERT after the answer; its cost is in
# docs/performance.md). Off: the trail keeps the admin's and the commands' writes and the
# refusals at the door, not the clients' writes.
ORION_AUDIT_API_WRITES = env_bool("ORION_AUDIT_API_WRITES", True)
# Whether the server records events about its own changes (run state changes, deployment,
# work-queue and work-pool status), in the transaction of each change; see docs/operations.md.
ORION_EVENTS_EMIT = env_bool("ORION_EVENTS_EMIT", True)
# How often the statuses service marks not ready the work pools without an online worker and
# the work queues and deployments not polled for a minute (the reference's foreman, 15 s).
ORION_STATUSES_INTERVAL_SECONDS = env_int("ORION_STATUSES_INTERVAL_SECONDS", 15, minimum=1)
# Liveness: when a RUNNING or CANCELLING run counts as stuck (0 = never; see runs_app.background.liveness).
ORION_LIVENESS_INTERVAL_SECONDS = env_int("ORION_LIVENESS_INTERVAL_SECONDS", 60, minimum=1)
ORION_STUCK_RUNNING_SECONDS = env_int("ORION_STUCK_RUNNING_SECONDS", 0, minimum=0)
ORION_STUCK_RUNNING_NO_DEPLOYMENT_SECONDS = env_int("ORION_STUCK_RUNNING_NO_DEPLOYMENT_SECONDS", 0, minimum=0)
ORION_CANCELLING_GRACE_SECONDS = env_int("ORION_CANCELLING_GRACE_SECONDS", 60, minimum=0)
ORION_CANCELLING_TIMEOUT_SECONDS = env_int("ORION_CANCELLING_TIMEOUT_SECONDS", 3600, minimum=0)
# Metrics: how often the services loop refreshes the run counts /api/metrics serves.
ORION_METRICS_INTERVAL_SECONDS = env_int("ORION_METRICS_INTERVAL_SECONDS", 15, minimum=1)
# Automations (docs/operations.md "Automations"): how often the evaluator reads new events
# (milliseconds), how many it reads per transaction, how often proactive triggers are
# judged, and how long an ended window's bucket is kept before it is dropped.
ORION_TRIGGERS_INTERVAL_MS = env_int("ORION_TRIGGERS_INTERVAL_MS", 250, minimum=10)
ORION_TRIGGERS_BATCH_SIZE = env_int("ORION_TRIGGERS_BATCH_SIZE", 500, minimum=1)
ORION_TRIGGERS_PROACTIVE_INTERVAL_SECONDS = env_int("ORION_TRIGGERS_PROACTIVE_INTERVAL_SECONDS", 5, minimum=1)
ORION_TRIGGERS_EXPIRED_BUCKET_BUFFER_SECONDS = env_int("ORION_TRIGGERS_EXPIRED_BUCKET_BUFFER_SECONDS", 60, minimum=0)
# The actions of automations (docs/operations.md "Automations' actions").
ORION_ACTIONS_INTERVAL_SECONDS = env_int("ORION_ACTIONS_INTERVAL_SECONDS", 1, minimum=1)
ORION_ACTIONS_MAX_ATTEMPTS = env_int("ORION_ACTIONS_MAX_ATTEMPTS", 3, minimum=1)
ORION_ACTIONS_RETRY_SECONDS = env_int("ORION_ACTIONS_RETRY_SECONDS", 10, minimum=0)
ORION_ACTIONS_HTTP_TIMEOUT_SECONDS = env_int("ORION_ACTIONS_HTTP_TIMEOUT_SECONDS", 10, minimum=1)
ORION_ACTIONS_LEASE_SECONDS = env_int("ORION_ACTIONS_LEASE_SECONDS", 300, minimum=30)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "orion_project.apps.OrionProjectConfig",
    "flows_app",
    "runs_app",
    "blocks_app",
    "access_app",
    "events_app",
    "automations_app",
]

MIDDLEWARE = [
    # Outermost, so a request's latency includes every other middleware.
    "orion_project.metrics.RequestMetricsMiddleware",
    # Which workspace an /api request is for (/api/workspaces/<slug>/... or default).
    "orion_project.workspaces.WorkspaceDoorMiddleware",
    "orion_project.api.middleware.CorsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "access_app.middleware.ApiAccessMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "orion_project.api.middleware.RequestLimitsMiddleware",
    "orion_project.ui.middleware.PrefectUiMiddleware",
    "orion_project.api.middleware.ApiVersionMiddleware",
    # The browser pages' middleware, skipped on /api/ requests (see browser_only).
    "orion_project.api.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "orion_project.api.middleware.CsrfViewMiddleware",
    "orion_project.api.middleware.AuthenticationMiddleware",
    "orion_project.api.middleware.MessageMiddleware",
    "orion_project.api.middleware.XFrameOptionsMiddleware",
    # Answers a locked-out admin login (django-axes); last, as axes asks.
    "orion_project.api.middleware.AxesMiddleware",
]
# Django's deploy checks look for its CSRF and frame-options middleware by dotted path, and
# django-axes for its own. The entries above are subclasses of those, skipped only on /api/
# (JSON for clients that send no cookie); tests/runs/test_hot_path_statements.py checks the
# admin still gets them.
SILENCED_SYSTEM_CHECKS = ["security.W002", "security.W003", "axes.W002"]
# An index's INCLUDE columns (the flow-run scatter plot's covering index) are a PostgreSQL
# read optimisation; SQLite builds the same index on its key columns, which is all it can
# use, so its warning about the ignored columns would only be printed at every start.
SILENCED_SYSTEM_CHECKS.append("models.W040")

ROOT_URLCONF = "orion_project.urls"
WSGI_APPLICATION = "orion_project.wsgi.application"
ASGI_APPLICATION = "orion_project.asgi.application"
# The Prefect client does not follow redirects: routes match exactly, slash or not.
APPEND_SLASH = False

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
            ],
        },
    },
]

_database_url = env_str("DATABASE_URL", "")
_sqlite_busy_timeout = env_int("ORION_SQLITE_BUSY_TIMEOUT_SECONDS", DEFAULT_SQLITE_BUSY_TIMEOUT_SECONDS, minimum=1)
if _database_url:
    _default_db = database_from_url(
        _database_url,
        pool_min=env_int("ORION_DB_POOL_MIN", 2, minimum=0),
        pool_max=env_int("ORION_DB_POOL_MAX", 20, minimum=1),
        prepared_statements=env_bool("ORION_DB_PREPARED_STATEMENTS", True),
        pool_timeout=env_int("ORION_DB_POOL_TIMEOUT_SECONDS", DEFAULT_POOL_TIMEOUT_SECONDS, minimum=1),
        sqlite_busy_timeout=_sqlite_busy_timeout,
    )
else:
    _default_db = sqlite_database(DATA_DIR / "orion.sqlite3", busy_timeout=_sqlite_busy_timeout)
DATABASES = {"default": _default_db}
# While the database cannot be reached (PostgreSQL down or restarting, no pooled connection
# within ORION_DB_POOL_TIMEOUT_SECONDS; SQLite locked past its busy timeout) the API answers
# 503 with this Retry-After, which both stock clients honour (docs/operations.md "Database outages").
ORION_DB_RETRY_AFTER_SECONDS = env_int("ORION_DB_RETRY_AFTER_SECONDS", 5, minimum=1)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Serve admin and API-doc assets straight from the installed apps (no collectstatic step).
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# Who may call the API (README "Deploying safely"): ``none`` lets anyone who reaches the
# port in; ``api-key`` needs ``Authorization: Bearer <key>`` (manage.py orion_api_key).
# A value that does not parse fails closed (api-key) as well as failing the system check.
ORION_AUTH = env_choice("ORION_AUTH", "none", ["none", "api-key"], invalid="api-key")
# A key lookup is cached this long per process: a revocation takes effect within it.
ORION_API_KEY_CACHE_SECONDS = env_int("ORION_API_KEY_CACHE_SECONDS", 5, minimum=0)

# Unlike the reference (every origin), only the server's own origin and those listed may
# call the API from a browser; no cookies are accepted cross-origin, and the API never
# authenticates by cookie anyway (REST_FRAMEWORK below), only by key.
CORS_ALLOWED_ORIGINS = env_list("ORION_CORS_ORIGINS", [])
CORS_ALLOW_CREDENTIALS = False
CORS_URLS_REGEX = r"^/api/.*$"
CORS_ALLOW_HEADERS = ["*"]

# Production hardening (off in debug). Behind a TLS-terminating proxy that sets
# X-Forwarded-Proto, ORION_BEHIND_TLS turns on secure cookies, HSTS and the HTTPS redirect
# (the health probes stay reachable over plain HTTP for load balancers).
ORION_BEHIND_TLS = env_bool("ORION_BEHIND_TLS", False)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if ORION_BEHIND_TLS and not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True
    SECURE_REDIRECT_EXEMPT = [r"^api/health$", r"^api/ready$"]
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("ORION_HSTS_SECONDS", 31_536_000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("ORION_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("ORION_HSTS_PRELOAD", False)
SESSION_COOKIE_HTTPONLY = True

# The dashboard's sign-in page (access_app.views); after it, the workspace switcher.
LOGIN_URL = "sign-in"
LOGIN_REDIRECT_URL = "workspaces"
# Login lockout (django-axes; README "Configuration"), on the admin's login and the
# dashboard's sign-in page: after this many wrong passwords
# for one username from one address, that pair is refused (429) for ORION_ADMIN_LOCKOUT_MINUTES
# (0: until ``manage.py axes_reset``). The API's key authentication never goes through it.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("ORION_ADMIN_LOGIN_FAILURE_LIMIT", 5, minimum=1)
_lockout_minutes = env_int("ORION_ADMIN_LOCKOUT_MINUTES", 15, minimum=0)
AXES_COOLOFF_TIME = dt.timedelta(minutes=_lockout_minutes) if _lockout_minutes else None
# Username and address together: a stranger guessing cannot lock the owner out from elsewhere.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# Both password logins are guarded: the admin's and the dashboard's sign-in page.
AXES_ONLY_ADMIN_SITE = False
# Behind the TLS proxy every request comes from the proxy: the client is the address the
# proxy appended to X-Forwarded-For.
AXES_CLIENT_IP_CALLABLE = "orion_project.admin_login.login_client_address"

REST_FRAMEWORK = {
    # No sessions on the API: the Prefect client sends no cookies and no CSRF token.
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_RENDERER_CLASSES": ["orion_project.api.renderers.OrionJSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "orion_project.api.parsers.OrionJSONParser",
        "orion_project.api.parsers.AnyContentTypeJSONParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "orion_project.api.schema.OrionAutoSchema",
    "EXCEPTION_HANDLER": "orion_project.api.errors.orion_exception_handler",
    "DEFAULT_FILTER_BACKENDS": [],
    # No OPTIONS self-description: the reference answers OPTIONS with 405 (CORS preflights
    # are answered by the CORS middleware before any view).
    "DEFAULT_METADATA_CLASS": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Orion on Django",
    "DESCRIPTION": "A Prefect 2 (Orion) compatible orchestration API served by Django.",
    "VERSION": ORION_API_VERSION,
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api",
    "COMPONENT_SPLIT_REQUEST": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # System fonts: the docs pages load nothing from outside this server.
    "REDOC_UI_SETTINGS": {
        "theme": {
            "typography": {"fontFamily": "system-ui, sans-serif", "headings": {"fontFamily": "system-ui, sans-serif"}}
        }
    },
    "ENUM_NAME_OVERRIDES": {
        "StateType": "runs_app.api.schema_enums.STATE_TYPE_VALUES",
        "Operator": "orion_project.filtering.BOOLEAN_OPERATORS",
        "FlowSort": "flows_app.api.schema_enums.FLOW_SORT_VALUES",
        "FlowRunSort": "runs_app.api.schema_enums.FLOW_RUN_SORT_VALUES",
        "TaskRunSort": "runs_app.api.schema_enums.TASK_RUN_SORT_VALUES",
        "LogSort": "runs_app.api.schema_enums.LOG_SORT_VALUES",
        "ArtifactSort": "runs_app.api.schema_enums.ARTIFACT_SORT_VALUES",
        "SetStateStatus": "runs_app.api.schema_enums.SET_STATE_STATUS_VALUES",
    },
    "PARSER_WHITELIST": ["orion_project.api.parsers.OrionJSONParser"],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "access_app.schema.declare_api_key_security",
        "automations_app.api.openapi.add_automation_documents",
    ],
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("ORION_LOG_LEVEL", "INFO")},
    # 4xx answers are the client's business; server errors still log.
    # axes.apps announces its configuration on every start; lockouts still log (axes.handlers).
    "loggers": {
        "django.request": {"level": "ERROR"},
        "django.db.backends": {"level": "INFO"},
        "axes.apps": {"level": "WARNING"},
    },
}
