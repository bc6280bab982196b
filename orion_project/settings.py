"""Settings for Orion on Django: one module, every value from the environment.

There is no separate production module: the same code runs everywhere and the
environment decides (see README "Configuration"). Values that do not parse are
reported by the system check ``orion.E001`` rather than silently ignored.
"""

from __future__ import annotations

from pathlib import Path

from orion_project.config import (
    database_from_url,
    env_bool,
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
# The Prefect package version this server answers on /api/admin/version, and the REST API
# version it speaks (clients send it in X-PREFECT-API-VERSION).
ORION_SERVER_VERSION = env_str("ORION_SERVER_VERSION", "2.7.12")
ORION_API_VERSION = "0.8.4"
ORION_MIN_API_VERSION = "0.8.0"
# Default page size of every POST .../filter route; also its maximum (reference §E).
ORION_API_DEFAULT_LIMIT = env_int("ORION_API_DEFAULT_LIMIT", 200, minimum=1)

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
    "orion_project.apps.OrionProjectConfig",
    "flows_app",
    "runs_app",
    "blocks_app",
]

MIDDLEWARE = [
    "corsheaders.middleware.CorsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "orion_project.api.middleware.ApiVersionMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

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
if _database_url:
    _default_db = database_from_url(
        _database_url,
        pool_min=env_int("ORION_DB_POOL_MIN", 2, minimum=0),
        pool_max=env_int("ORION_DB_POOL_MAX", 20, minimum=1),
    )
else:
    _default_db = sqlite_database(DATA_DIR / "orion.sqlite3")
DATABASES = {"default": _default_db}
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

# The reference allows every origin, method and header on the API.
CORS_ALLOW_ALL_ORIGINS = True
CORS_URLS_REGEX = r"^/api/.*$"
CORS_ALLOW_HEADERS = ["*"]

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
    "ENUM_NAME_OVERRIDES": {
        "StateType": "runs_app.api.schema_enums.STATE_TYPE_VALUES",
        "Operator": "orion_project.filtering.BOOLEAN_OPERATORS",
        "FlowSort": "flows_app.api.schema_enums.FLOW_SORT_VALUES",
        "FlowRunSort": "runs_app.api.schema_enums.FLOW_RUN_SORT_VALUES",
        "TaskRunSort": "runs_app.api.schema_enums.TASK_RUN_SORT_VALUES",
        "LogSort": "runs_app.api.schema_enums.LOG_SORT_VALUES",
        "SetStateStatus": "runs_app.api.schema_enums.SET_STATE_STATUS_VALUES",
    },
    "PARSER_WHITELIST": ["orion_project.api.parsers.OrionJSONParser"],
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("ORION_LOG_LEVEL", "INFO")},
    # 4xx answers are the client's business; server errors still log.
    "loggers": {"django.request": {"level": "ERROR"}, "django.db.backends": {"level": "INFO"}},
}
