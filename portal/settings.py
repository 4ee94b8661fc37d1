"""The one settings module. It is the only place that reads the environment (see .env.example)."""

import secrets
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

from portal.environment import env_bool, env_choice, env_int, env_list, env_rate, env_str, env_url
from portal.logs import logging_settings

BASE_DIR = Path(__file__).resolve().parent.parent

RUNYARD_ENV = env_choice("RUNYARD_ENV", "development", ("development", "production", "test"))
PRODUCTION = RUNYARD_ENV == "production"
RUNYARD_HOME = Path(env_str("RUNYARD_HOME", str(Path.cwd() / ".runyard"))).resolve()
RUNYARD_BASE_DOMAIN = env_str("RUNYARD_BASE_DOMAIN", "localhost").lower()
RUNYARD_PUBLIC_URL = env_str("RUNYARD_PUBLIC_URL", f"http://{RUNYARD_BASE_DOMAIN}:8000").rstrip("/")


def _secret_key() -> str:
    """Production must say its key; development keeps a generated one under RUNYARD_HOME."""
    key = env_str("SECRET_KEY", "")
    if key:
        return key
    if PRODUCTION:
        raise ImproperlyConfigured("SECRET_KEY must be set when RUNYARD_ENV=production")
    key_file = RUNYARD_HOME / "secret_key"
    if not key_file.exists():
        RUNYARD_HOME.mkdir(parents=True, exist_ok=True)
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = env_bool("DEBUG", default=False)
ALLOWED_HOSTS = [RUNYARD_BASE_DOMAIN, f".{RUNYARD_BASE_DOMAIN}", *env_list("RUNYARD_EXTRA_HOSTS")]
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
# The header the reverse proxy puts the client's address in (e.g. X-Forwarded-For); empty: REMOTE_ADDR.
RUNYARD_CLIENT_IP_HEADER = env_str("RUNYARD_CLIENT_IP_HEADER", "")

# --- Applications: public schema (SHARED_APPS) and one schema per tenant (TENANT_APPS) ---
SHARED_APPS = [
    "django_tenants",
    "daphne",
    "tenants",
    "jobs.catalog",
    "jobs.automation",
    "chat.knowledge",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "corsheaders",
    "csp",
]
TENANT_APPS = [
    "django.contrib.contenttypes",
    "jobs",
    "jobs.notifications",
    "analysis",
    "chat",
    "chat.knowledge",
]
INSTALLED_APPS = SHARED_APPS + [app for app in TENANT_APPS if app not in SHARED_APPS]

TENANT_MODEL = "tenants.Tenant"
TENANT_DOMAIN_MODEL = "tenants.Domain"
# New tenants are cloned from this empty, migrated schema (see tenants/schema_template.py).
TENANT_BASE_SCHEMA = "tenant_template"
TENANT_CREATION_FAKES_MIGRATIONS = True
PUBLIC_SCHEMA_URLCONF = "portal.urls_public"
ROOT_URLCONF = "portal.urls"
SHOW_PUBLIC_IF_NO_TENANT_FOUND = False

MIDDLEWARE = [
    "portal.logs.RequestIdMiddleware",
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "portal.middleware.HealthCheckMiddleware",
    "portal.lib.origin.RequestOriginMiddleware",
    "django_tenants.middleware.main.TenantMainMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "portal.csp.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "tenants.middleware.TenantAccessMiddleware",
    "portal.ratelimits.UploadRateLimitMiddleware",
    "portal.ratelimits.AdminSignInRateLimitMiddleware",
    "portal.middleware.StorageBusyMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

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
                "tenants.context_processors.tenant",
            ],
        },
    },
]

WSGI_APPLICATION = None
ASGI_APPLICATION = "portal.asgi.application"

# --- Database: PostgreSQL only. No DATABASE_URL means an embedded server under RUNYARD_HOME. ---
DATABASE_URL = env_url("DATABASE_URL", schemes=("postgres", "postgresql"))
if not DATABASE_URL:
    from portal.embedded_postgres import embedded_database_url

    DATABASE_URL = embedded_database_url(RUNYARD_HOME)
# A kept connection is checked before a request reuses it (one restart of PostgreSQL then costs no
# request an error), and connecting gives up after 5 s, so requests during an outage answer 503 quickly
# (portal.outage) instead of waiting on a server that is gone.
DATABASES = {
    "default": dj_database_url.parse(
        DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 0), conn_health_checks=True
    )
}
DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 5)
# django-tenants' backend, plus a PostgreSQL role per tenant schema that connections switch to (README,
# "Security"); the login role needs CREATEROLE (or superuser) to create them. false: one role for all.
DATABASES["default"]["ENGINE"] = "portal.postgresql_backend"
RUNYARD_TENANT_ROLES = env_bool("RUNYARD_TENANT_ROLES", default=True)
DATABASES["default"]["TEST"] = {"NAME": env_str("TEST_DATABASE_NAME", "test_runyard")}
DATABASE_ROUTERS = ["django_tenants.routers.TenantSyncRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: channel layer, Celery broker and cache. Without it: single-machine defaults. ---
REDIS_URL = env_url("REDIS_URL", schemes=("redis", "rediss", "unix"))
RUNYARD_BROKER_VISIBILITY_SECONDS = env_int("RUNYARD_BROKER_VISIBILITY_SECONDS", 7800, minimum=1)
if REDIS_URL:
    # portal.channel_layer pops for 2 s, inside redis-py 8's 5 s read timeout (channels_redis#422: with
    # both at 5 s an idle websocket was closed now and then; see the module). Capacity: messages waiting
    # per channel before new ones are dropped.
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "portal.channel_layer.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "capacity": 1000},
        }
    }
    # A cache that misses while Redis is unreachable (portal.cache): pages keep serving during a restart.
    CACHES = {
        "default": {
            "BACKEND": "portal.cache.DegradingRedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 2},
            "KEY_FUNCTION": "django_tenants.cache.make_key",
            "REVERSE_KEY_FUNCTION": "django_tenants.cache.reverse_key",
        }
    }
    CELERY_BROKER_URL = REDIS_URL
    CELERY_RESULT_BACKEND = REDIS_URL
    # A task taken by a worker that then vanished (SIGKILL, a lost host) goes back to the queue once it has
    # been unacknowledged this long; every worker looks for such tasks every visibility/2 s (at most 10 s).
    # Keep it longer than the longest task (a cost ingest may run 2 h), or a task still running is handed
    # to a second worker too.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": RUNYARD_BROKER_VISIBILITY_SECONDS,
        "unacked_restore_interval": min(10, max(1, RUNYARD_BROKER_VISIBILITY_SECONDS // 2)),
        "unacked_restore_throttle": 1,  # kombu's default looks only every 10th time
    }
else:
    # One process serves HTTP and websockets, so the in-memory layer reaches every socket it
    # holds; it cannot carry messages from the Celery worker (see README, "Without Redis").
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(RUNYARD_HOME / "cache"),
            "KEY_FUNCTION": "django_tenants.cache.make_key",
            "REVERSE_KEY_FUNCTION": "django_tenants.cache.reverse_key",
        }
    }
    # kombu's filesystem transport: a real broker between real processes, with no server.
    _broker = RUNYARD_HOME / "broker"
    for _folder in ("queue", "processed", "control", "results"):
        (_broker / _folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT = "portal.broker:Transport"  # kombu's, with atomic writes
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker / "queue"),
        "data_folder_out": str(_broker / "queue"),
        "processed_folder": str(_broker / "processed"),
        "control_folder": str(_broker / "control"),
        "store_processed": False,
        "polling_interval": 0.2,
    }
    CELERY_RESULT_BACKEND = f"file://{_broker / 'results'}"

# --- Chat (see README, "Chat") ---
RUNYARD_CHAT_MESSAGES_PER_MINUTE = env_int("RUNYARD_CHAT_MESSAGES_PER_MINUTE", 20, minimum=1)

# --- Execution (see README, "Running worksets") ---
RUNYARD_MAX_RUNNING_WORKSETS = env_int("RUNYARD_MAX_RUNNING_WORKSETS", 50, minimum=1)
RUNYARD_DISPATCH_SECONDS = env_int("RUNYARD_DISPATCH_SECONDS", 5, minimum=1)
# A profile or cost ingest still waiting this long gets its task sent again (its first send may be lost).
RUNYARD_RESEND_WAITING_SECONDS = env_int("RUNYARD_RESEND_WAITING_SECONDS", 300, minimum=1)
RUNYARD_POLL_SECONDS = env_int("RUNYARD_POLL_SECONDS", 2, minimum=1)
RUNYARD_RETRY_BASE_SECONDS = env_int("RUNYARD_RETRY_BASE_SECONDS", 30, minimum=0)
RUNYARD_RETRY_CAP_SECONDS = env_int("RUNYARD_RETRY_CAP_SECONDS", 900, minimum=0)
RUNYARD_TEST_PIPELINE_SECONDS = env_int("RUNYARD_TEST_PIPELINE_SECONDS", 0, minimum=0)

# --- Profiles (see README, "Profiles") ---
RUNYARD_MAX_PROFILE_BYTES = env_int("RUNYARD_MAX_PROFILE_MB", 500, minimum=1) * 1024 * 1024
# --- Cost data (see README, "Getting cost data in") ---
RUNYARD_MAX_COST_INGEST_BYTES = env_int("RUNYARD_MAX_COST_INGEST_MB", 1024, minimum=1) * 1024 * 1024
# ISS client secrets by tenant slug, for connections whose secret source is "settings". Deployments that
# keep secrets in the environment set ISS_CLIENT_SECRET_<SLUG> instead (analysis.iss.connections reads
# it when the token is fetched, so a rotated secret needs no restart); AWS Secrets Manager is the other
# source.
ISS_CLIENT_SECRETS: dict[str, str] = {}
# HWA (workload automation) passwords or API keys by tenant slug, for connections whose secret source is
# "settings"; HWA_PASSWORD_<SLUG> in the environment works too (jobs.automation.connections reads it on
# every request); AWS Secrets Manager is the other source.
HWA_PASSWORDS: dict[str, str] = {}
# Chat model API keys by tenant slug, for assistant settings whose key source is "settings";
# CHAT_PROVIDER_KEY_<SLUG> in the environment works too (chat.llm reads it at every answer, so a rotated key
# needs no restart). AWS Secrets Manager is the other source; Bedrock signs with the portal's AWS credentials.
CHAT_PROVIDER_KEYS: dict[str, str] = {}

CELERY_TASK_ALWAYS_EAGER = False
# A task is acknowledged when it finished, and put back in the queue when the process running it died
# (SIGKILL, out of memory): every task is written so that running it again does no harm.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_EXPIRES = 3600
# Nothing reads a task's result (but the demo's ping_task, which asks for it): sending a task then never
# waits on the result backend, which would stall a request ~20 s while Redis restarts.
CELERY_TASK_IGNORE_RESULT = True
CELERY_BEAT_SCHEDULE: dict = {
    # Usage and billing (UTC): storage measured per tenant, budgets checked, last month closed on the 1st.
    "measure-storage-daily": {
        "task": "portal.fan_out_to_tenants",
        "schedule": crontab(minute=10, hour=0),
        "args": ["tenants.measure_storage_task"],
        "kwargs": {"include_suspended": True},
    },
    "check-budgets-daily": {
        "task": "portal.fan_out_to_tenants",
        "schedule": crontab(minute=40, hour=0),
        "args": ["tenants.check_budget_task"],
        "kwargs": {"include_suspended": True},
    },
    "check-clusters": {"task": "jobs.check_clusters_task", "schedule": 60.0},
    # Execution: place queued worksets (also sent on every submit and finished run), follow running ones.
    "dispatch": {"task": "jobs.dispatch_task", "schedule": float(RUNYARD_DISPATCH_SECONDS)},
    "poll-runs": {"task": "jobs.poll_runs_task", "schedule": float(RUNYARD_POLL_SECONDS)},
    # Also in tenants with nothing placed: a cancelled run whose stop message was lost is stopped.
    "poll-runs-in-every-tenant": {
        "task": "portal.fan_out_to_tenants",
        "schedule": 60.0,
        "args": ["jobs.poll_tenant_runs_task"],
    },
    "resend-overdue-notifications": {
        "task": "portal.fan_out_to_tenants",
        "schedule": 300.0,
        "args": ["notifications.resend_overdue_task"],
    },
    # Catch-ups of sends lost while the broker was away (each run finds nothing to do when none was).
    "release-held-worksets": {
        "task": "portal.fan_out_to_tenants",
        "schedule": 60.0,
        "args": ["jobs.release_held_worksets_task"],
    },
    "resume-signups": {"task": "tenants.resume_signups_task", "schedule": 60.0},
    "resend-waiting-uploads": {
        "task": "portal.fan_out_to_tenants",
        "schedule": 60.0,
        "args": ["analysis.resend_waiting_task"],
    },
    "close-month": {
        "task": "tenants.close_month_task",
        "schedule": crontab(minute=20, hour=0, day_of_month=1),
    },
}

# --- Accounts and sign-in (django-allauth) ---
AUTH_USER_MODEL = "tenants.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
ACCOUNT_ADAPTER = "tenants.adapters.TenantAccountAdapter"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
# Sign-in limits (allauth's cache-backed limiter): failed attempts per client address (offices share one)
# and per account (the email typed), and all attempts per address. Over the limit the form says "Too many
# failed login attempts"; too many attempts answer 429.
RUNYARD_RATE_LOGIN_FAILURES_PER_IP = env_rate("RUNYARD_RATE_LOGIN_FAILURES_PER_IP", "20/5m")
RUNYARD_RATE_LOGIN_FAILURES_PER_ACCOUNT = env_rate("RUNYARD_RATE_LOGIN_FAILURES_PER_ACCOUNT", "5/5m")
RUNYARD_RATE_LOGIN_PER_IP = env_rate("RUNYARD_RATE_LOGIN_PER_IP", "30/m")
ACCOUNT_RATE_LIMITS = {
    "login_failed": f"{RUNYARD_RATE_LOGIN_FAILURES_PER_IP}/ip,{RUNYARD_RATE_LOGIN_FAILURES_PER_ACCOUNT}/key",
    "login": f"{RUNYARD_RATE_LOGIN_PER_IP}/ip",
    "reset_password": "5/m/ip,3/m/key",
}
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "Runyard"
LOGIN_REDIRECT_URL = "dashboard"
LOGIN_URL = "account_login"

# --- Security (see README, "Security") ---
# Sessions end after SESSION_COOKIE_AGE seconds without a request (each request renews the cookie).
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 14 * 24 * 3600, minimum=300)
SESSION_SAVE_EVERY_REQUEST = True
SESSION_ENGINE = "portal.sessions"  # the database's, answering 503 (not 400) when PostgreSQL goes mid-request
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = PRODUCTION
# The CSRF cookie stays readable by scripts: files.js and generator.js send it back as a header.
CSRF_COOKIE_HTTPONLY = False
CSRF_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SECURE = PRODUCTION
# Behind a TLS-terminating proxy: trust its X-Forwarded-Proto only when it sets (not forwards) the header.
if env_bool("RUNYARD_BEHIND_PROXY", default=PRODUCTION):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=PRODUCTION)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000 if PRODUCTION else 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True  # every tenant is a subdomain of the base domain
# The preload flag only allows submitting the base domain to browsers' preload list, which is a manual step.
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", default=PRODUCTION)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy (django-csp; portal.csp adds ws(s):// of the request's own host to connect-src).
# No inline scripts or styles anywhere: pages load static/js and static/css files only.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
# CORS (django-cors-headers): closed unless an origin is listed; only the API answers cross-origin calls.
CORS_ALLOWED_ORIGINS = env_list("CORS_ALLOWED_ORIGINS")
CORS_URLS_REGEX = r"^/api/.*$"
CORS_ALLOW_CREDENTIALS = False  # cross-origin callers authenticate with a bearer token, not the session
# django-ratelimit (cache-backed) for API tokens and uploads; sign-in uses allauth's limiter above.
RATELIMIT_USE_CACHE = "default"
RATELIMIT_FAIL_OPEN = True  # a cache that cannot count (Redis restarting) must not refuse every API call
RUNYARD_RATE_API_TOKEN = env_rate("RUNYARD_RATE_API_TOKEN", "600/m")
RUNYARD_RATE_UPLOADS = env_rate("RUNYARD_RATE_UPLOADS", "300/h")

# --- Email ---
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", default=False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", f"Runyard <noreply@{RUNYARD_BASE_DOMAIN}>")

# --- Notifications (jobs/notifications): webhooks, Slack and Linear over HTTP, retried with backoff ---
NOTIFICATIONS_HTTP_TIMEOUT = env_int("NOTIFICATIONS_HTTP_TIMEOUT", 10, minimum=1)
NOTIFICATIONS_MAX_ATTEMPTS = env_int("NOTIFICATIONS_MAX_ATTEMPTS", 8, minimum=1)
NOTIFICATIONS_RETRY_BASE_SECONDS = env_int("NOTIFICATIONS_RETRY_BASE_SECONDS", 30, minimum=1)
NOTIFICATIONS_RETRY_MAX_SECONDS = env_int("NOTIFICATIONS_RETRY_MAX_SECONDS", 3600, minimum=1)
NOTIFICATIONS_ALLOW_PRIVATE_URLS = env_bool("NOTIFICATIONS_ALLOW_PRIVATE_URLS", default=not PRODUCTION)

# --- Storage: one bucket per tenant, on S3 (any S3-compatible endpoint) or in a local directory ---
S3_ENDPOINT_URL = env_url("S3_ENDPOINT_URL", schemes=("http", "https"))
S3_REGION = env_str("S3_REGION", "us-east-1")
S3_ACCESS_KEY_ID = env_str("S3_ACCESS_KEY_ID", "")
S3_SECRET_ACCESS_KEY = env_str("S3_SECRET_ACCESS_KEY", "")
_s3_configured = bool(S3_ENDPOINT_URL or S3_ACCESS_KEY_ID)
STORAGE_BACKEND = env_choice("STORAGE_BACKEND", "s3" if _s3_configured else "local", ("s3", "local"))
STORAGE_LOCAL_ROOT = Path(env_str("STORAGE_LOCAL_ROOT", str(RUNYARD_HOME / "buckets"))).resolve()
BUCKET_PREFIX = env_str("BUCKET_PREFIX", "runyard")
BUCKET_ENVIRONMENT_TAG = env_str("BUCKET_ENVIRONMENT_TAG", RUNYARD_ENV)
SELF_SERVICE_SIGNUP = env_bool("SELF_SERVICE_SIGNUP", default=False)

# --- Slurm backend (jobs/backends/slurm.py): the Slurm client configuration of the workers ---
SLURM_CONF = env_str("SLURM_CONF", "")  # passed as SLURM_CONF to sbatch/scontrol/...; empty: Slurm's default
if SLURM_CONF and not Path(SLURM_CONF).is_absolute():
    raise ImproperlyConfigured(f"SLURM_CONF must be an absolute path, got {SLURM_CONF!r}")
SLURM_PARTITION = env_str("SLURM_PARTITION", "")  # empty: the cluster's default partition

# --- API ---
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "tenants.authentication.ApiTokenAuthentication",
        "tenants.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["portal.permissions.IsTenantMember"],
    "DEFAULT_PARSER_CLASSES": [
        "portal.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "portal.pagination.CursorPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "portal.rest.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Runyard API",
    "DESCRIPTION": (
        "Tenant-scoped API. Authenticate with `Authorization: Bearer <token>` on your tenant's host."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SERVE_PERMISSIONS": ["portal.permissions.IsTenantMember"],
    # The one error shape on every operation (portal/openapi.py).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "portal.openapi.document_errors",
    ],
    # Swagger UI's assets come from drf-spectacular-sidecar: the docs work offline, with no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "TenantStatusEnum": "tenants.models.accounts.Tenant.Status",
        "InvoiceStatusEnum": "tenants.models.billing.Invoice.Status",
        "WorksetStateEnum": "jobs.models.State",
        "ProfileStateEnum": "analysis.models.State",
        "RateSourceEnum": "analysis.models.costs.RateSource",
        "CostIngestKindEnum": "analysis.models.costs.IngestKind",
        "CostIngestStateEnum": "analysis.models.costs.IngestState",
        "ProfileSourceEnum": "analysis.models.Source",
        "CostAnswerSourceEnum": "analysis.api.cost_serializers.SOURCES",
        "ChatMessageRoleEnum": "chat.models.Message.Role",
        "RoleEnum": "tenants.models.Role",
        "ChatMessageStateEnum": "chat.models.Message.State",
    },
}

# --- Static files and i18n ---
STATIC_URL = "/static/"
STATIC_ROOT = RUNYARD_HOME / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise warns on every request while it is missing
STATICFILES_DIRS = [BASE_DIR / "static"]
WHITENOISE_USE_FINDERS = not PRODUCTION
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Logs and metrics: JSON lines in production, readable lines in development; /metrics needs the token ---
LOG_FORMAT = env_choice("LOG_FORMAT", "json" if PRODUCTION else "console", ("json", "console"))
LOGGING = logging_settings(LOG_FORMAT, env_choice("LOG_LEVEL", "info", ("debug", "info", "warning", "error")))
METRICS_TOKEN = env_str("METRICS_TOKEN", "")  # empty: /metrics answers 404
