"""SocialCRM settings: every value comes from the environment, read here and only here."""

from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

from socialcrm.devdb import local_database_settings

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
# A local `.env` (written by `make run`) fills in what the process environment leaves unset. The test
# settings set SOCIALCRM_IGNORE_DOTENV: a developer's `.env` (DEBUG=1, the simulator) must not change the suite.
if not env.bool("SOCIALCRM_IGNORE_DOTENV", default=False):
    environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "local-development-only-secret-key-not-for-production"

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# Token vault: "<key id>:<32 bytes base64url>" separated by commas; the first encrypts, all decrypt.
TOKEN_ENCRYPTION_KEYS = env.str("TOKEN_ENCRYPTION_KEYS", default="")
if not TOKEN_ENCRYPTION_KEYS and not DEBUG:
    raise ImproperlyConfigured(
        "TOKEN_ENCRYPTION_KEYS must be set when DEBUG is off "
        "(format: '<key id>:<32 random bytes, base64url>', comma-separated)."
    )

INSTALLED_APPS = [
    "crm.admin_apps.TenantAdminConfig",  # django.contrib.admin with every model tenant-scoped
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI and ReDoc served from our own static files
    "csp",
    "django_celery_beat",
    "axes",  # login lockout; keep after django.contrib.auth
    "anymail",  # email through a provider's API, and its tracking webhooks
    "simple_history",  # who did what to posts, promotions and connections (crm/history.py)
    "crm",
    "platforms",
    "connections",
    "posts",
    "promotions",
    "library",
    "notifications",
]

MIDDLEWARE = [
    "socialcrm.observability.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Outside the others, so error responses they return (400, 403) carry the policy too.
    "socialcrm.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "socialcrm.guards.InputGuardMiddleware",  # input robustness: 413 for oversized API bodies, 400 for NUL
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "crm.middleware.ClubContextMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",  # the signed-in user is the actor of a change
    "axes.middleware.AxesMiddleware",  # login lockout: turns a lockout into a clear answer
]

ROOT_URLCONF = "socialcrm.urls"
WSGI_APPLICATION = "socialcrm.wsgi.application"

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
                "crm.context_processors.club_context",
                "notifications.context_processors.banners",
            ],
        },
    },
]

# DATABASE_URL unset: the bundled PostgreSQL under var/postgres (socialcrm/devdb.py; `make run` starts it,
# `make test` starts a throwaway one and sets DATABASE_URL). SQLite still works: DATABASE_URL=sqlite:///path.
DATABASES = {
    "default": env.db("DATABASE_URL") if env.str("DATABASE_URL", default="") else local_database_settings(),
}
# Workers and web threads keep their database connection between tasks and requests (a new PostgreSQL
# connection costs more CPU than a publish's own queries); each is checked before it is reused, so a
# database restart costs one reconnect, not a failed task.
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", env.bool("CONN_HEALTH_CHECKS", default=True))
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and beat share one file locally: wait for locks instead of failing.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = env.path("MEDIA_ROOT", default=str(VAR_DIR / "media"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
# Absolute base for links that leave the app (media published by URL, unsubscribe links, OAuth callbacks).
# Unset: this machine on the port the web process binds (PORT, as `make run PORT=...` and the Procfile use).
SITE_URL = env.str("SITE_URL", default=f"http://127.0.0.1:{env.int('PORT', default=8000)}").rstrip("/")

# Security headers: on in production, explained in the README.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SECURE_CONTENT_TYPE_NOSNIFF = True
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"

# Email: EMAIL_URL (smtp://user:pass@host:587, consolemail://, filemail://path, ...) or Django's EMAIL_*.
_email_url = env.str("EMAIL_URL", default="")
if _email_url:
    vars().update(env.email_url_config(_email_url))
else:
    EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
    EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
    EMAIL_PORT = env.int("EMAIL_PORT", default=25)
    EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
    EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
    EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="SocialCRM <no-reply@socialcrm.local>")
# Email through a provider (django-anymail) instead of SMTP: EMAIL_PROVIDER names one of EMAIL_PROVIDERS and every
# ANYMAIL_<NAME> variable becomes ANYMAIL["<NAME>"] (ANYMAIL_MAILGUN_API_KEY, ANYMAIL_MAILGUN_SENDER_DOMAIN, ANYMAIL_MAILGUN_API_URL,
# ANYMAIL_MAILGUN_WEBHOOK_SIGNING_KEY, ANYMAIL_POSTMARK_SERVER_TOKEN, ANYMAIL_WEBHOOK_SECRET, ...). Its tracking
# webhook is mounted at /anymail/<provider>/tracking/ and verified by anymail with the provider's signature.
EMAIL_PROVIDERS = ("mailgun", "postmark", "brevo", "mailjet", "sparkpost", "resend", "amazon_ses", "mailersend", "postal")
EMAIL_PROVIDER = env.str("EMAIL_PROVIDER", default="").strip().lower()
MAIL_SIMULATOR_PORT = env.int("MAIL_SIMULATOR_PORT", default=8101)
ANYMAIL = {name.removeprefix("ANYMAIL_"): value for name, value in env.ENVIRON.items()
           if name.startswith("ANYMAIL_") and value}
_email_chosen = bool(EMAIL_PROVIDER or _email_url or "EMAIL_BACKEND" in env.ENVIRON)
if not _email_chosen and env.bool("USE_PLATFORM_SIMULATOR", default=False) and DEBUG:
    # Local runs with no email set up: the bundled mail stand-in (python -m simulator.mail) plays Mailgun,
    # with local-only keys.
    EMAIL_PROVIDER = "mailgun"
    ANYMAIL = {"MAILGUN_API_KEY": "sim-mailgun-key", "MAILGUN_SENDER_DOMAIN": "mail.socialcrm.local",
               "MAILGUN_WEBHOOK_SIGNING_KEY": "sim-mailgun-signing-key",
               "MAILGUN_API_URL": f"http://127.0.0.1:{MAIL_SIMULATOR_PORT}/v3", **ANYMAIL}
if EMAIL_PROVIDER:
    if EMAIL_PROVIDER not in EMAIL_PROVIDERS:
        raise ImproperlyConfigured(f"EMAIL_PROVIDER must be one of {', '.join(EMAIL_PROVIDERS)}, not {EMAIL_PROVIDER!r}")
    EMAIL_BACKEND = f"anymail.backends.{EMAIL_PROVIDER}.EmailBackend"
    # Tracking webhooks are refused unless verified: Mailgun signs them (HMAC); the others use basic auth.
    _webhook_credential = "MAILGUN_WEBHOOK_SIGNING_KEY" if EMAIL_PROVIDER == "mailgun" else "WEBHOOK_SECRET"
    if not DEBUG and not ANYMAIL.get(_webhook_credential):
        raise ImproperlyConfigured(f"ANYMAIL_{_webhook_credential} must be set to verify {EMAIL_PROVIDER}'s webhooks.")
# The providers whose tracking webhook is mounted (the chosen one; tests mount the simulator's).
EMAIL_TRACKING_PROVIDERS = env.list("EMAIL_TRACKING_PROVIDERS", default=[EMAIL_PROVIDER] if EMAIL_PROVIDER else [])
# Tracking events older than this (by the provider's timestamp) are refused; ids are kept for longer than that.
EMAIL_EVENT_MAX_AGE_SECONDS = env.int("EMAIL_EVENT_MAX_AGE_SECONDS", default=24 * 3600)
# This many soft bounces in a row (no delivery between them) suppress the address like a hard bounce.
EMAIL_SOFT_BOUNCE_LIMIT = env.int("EMAIL_SOFT_BOUNCE_LIMIT", default=3)
SMS_BACKEND = env.str("SMS_BACKEND", default="promotions.sms.ConsoleSmsBackend")
SMS_GATEWAY_URL = env.str("SMS_GATEWAY_URL", default="")
SMS_GATEWAY_TOKEN = env.str("SMS_GATEWAY_TOKEN", default="")
SMS_SIMULATOR_PORT = env.int("SMS_SIMULATOR_PORT", default=8102)
SMS_SENDER_ID = env.str("SMS_SENDER_ID", default="SocialCRM")
# Signs the SMS gateway's delivery receipts (HMAC-SHA256, promotions/sms_receipts.py); empty: receipts refused.
SMS_RECEIPT_SECRET = env.str("SMS_RECEIPT_SECRET", default="")
if "SMS_BACKEND" not in env.ENVIRON and env.bool("USE_PLATFORM_SIMULATOR", default=False) and DEBUG:
    # Local runs with no SMS gateway set up: the bundled stand-in (python -m simulator.sms) plays it, local-only keys.
    SMS_BACKEND = "promotions.sms.HttpGatewaySmsBackend"
    SMS_GATEWAY_URL = SMS_GATEWAY_URL or f"http://127.0.0.1:{SMS_SIMULATOR_PORT}/messages"
    SMS_GATEWAY_TOKEN = SMS_GATEWAY_TOKEN or "sim-sms-token"
    SMS_RECEIPT_SECRET = SMS_RECEIPT_SECRET or "sim-sms-receipt-secret"

# Celery: an embedded filesystem broker by default, so `make run` needs no server.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    # Processes that share one queue share this folder (the test suite gives its worker and beat their own).
    _broker_dir = Path(env.str("CELERY_BROKER_FOLDER", default=str(VAR_DIR / "broker")))
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
    for _folder in ("queue", "processed", "control"):
        (_broker_dir / _folder).mkdir(parents=True, exist_ok=True)
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Database connections live across tasks by CONN_MAX_AGE (socialcrm/celery.py); Celery's own fixup then
# closes a worker process's connection only once in this many tasks, instead of after each one.
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=1000)
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = "UTC"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False  # keep the structured log format in workers

# Queues and time limits: socialcrm/task_routing.py routes tasks by name pattern; limits are
# (soft, hard) seconds per queue, enforced by the prefork workers of the Procfile.
from socialcrm import task_routing as _task_routing  # noqa: E402

CELERY_TASK_DEFAULT_QUEUE = _task_routing.DEFAULT_QUEUE
CELERY_TASK_ROUTES = _task_routing.task_routes()
CELERY_TIME_LIMITS = {
    "scheduler": (env.int("SCHEDULER_SOFT_TIME_LIMIT", default=45), env.int("SCHEDULER_TIME_LIMIT", default=60)),
    "publishing": (env.int("PUBLISH_SOFT_TIME_LIMIT", default=420), env.int("PUBLISH_TIME_LIMIT", default=480)),
    "sending": (env.int("SENDING_SOFT_TIME_LIMIT", default=780), env.int("SENDING_TIME_LIMIT", default=840)),
    "metrics": (env.int("METRICS_SOFT_TIME_LIMIT", default=540), env.int("METRICS_TIME_LIMIT", default=600)),
    "housekeeping": (env.int("HOUSEKEEPING_SOFT_TIME_LIMIT", default=540),
                     env.int("HOUSEKEEPING_TIME_LIMIT", default=600)),
}
CELERY_TASK_ANNOTATIONS = (_task_routing.TimeLimits(CELERY_TIME_LIMITS),)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "crm.authentication.ExpiringTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["crm.permissions.IsTenantStaff"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": env.int("API_PAGE_SIZE", default=50),
    # Tenant isolation: every ?club= / ?campaign= / ... filter id resolves within the caller's scope.
    "DEFAULT_FILTER_BACKENDS": ["crm.api_scoping.TenantScopedFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # Scoped throttles: "token" guards password guessing, "events" the signed inbound hook.
    "DEFAULT_THROTTLE_CLASSES": ["rest_framework.throttling.ScopedRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "token": env.str("API_TOKEN_THROTTLE_RATE", default="10/min"),
        "events": env.str("API_EVENTS_THROTTLE_RATE", default="600/min"),
    },
}
# Input robustness: one error shape, strict filters, the documented error responses (README "API errors").
REST_FRAMEWORK["EXCEPTION_HANDLER"] = "socialcrm.api_errors.api_exception_handler"
REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"] = "socialcrm.api_schema.DocumentedErrorsSchema"
REST_FRAMEWORK["DEFAULT_PAGINATION_CLASS"] = "socialcrm.api_inputs.StrictPageNumberPagination"
# Times accepted anywhere (API, pages, filters): not before this year, not more than this many years ahead.
INPUT_EARLIEST_YEAR = env.int("INPUT_EARLIEST_YEAR", default=2000)
INPUT_HORIZON_YEARS = env.int("INPUT_HORIZON_YEARS", default=5)
SPECTACULAR_SETTINGS = {
    "TITLE": "SocialCRM social API",
    "DESCRIPTION": "Connections, posts, promotions and campaigns of a club's social presence.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # API docs load nothing from another origin (drf-spectacular-sidecar ships the bundles).
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    # Several models have a "kind"; each choice set gets its own name in the schema.
    "ENUM_NAME_OVERRIDES": {"NotificationKindEnum": "notifications.models.NotificationKind"},
}

# Platforms: app credentials and where each platform lives (point these at the simulator locally).
FACEBOOK_APP_ID = env.str("FACEBOOK_APP_ID", default="")
FACEBOOK_APP_SECRET = env.str("FACEBOOK_APP_SECRET", default="")
FACEBOOK_DIALOG_URL = env.str("FACEBOOK_DIALOG_URL", default="https://www.facebook.com")
FACEBOOK_GRAPH_URL = env.str("FACEBOOK_GRAPH_URL", default="https://graph.facebook.com")
FACEBOOK_GRAPH_VERSION = env.str("FACEBOOK_GRAPH_VERSION", default="v25.0")
X_CLIENT_ID = env.str("X_CLIENT_ID", default="")
X_CLIENT_SECRET = env.str("X_CLIENT_SECRET", default="")
X_AUTHORIZE_URL = env.str("X_AUTHORIZE_URL", default="https://x.com/i/oauth2/authorize")
X_API_URL = env.str("X_API_URL", default="https://api.x.com")
LINKEDIN_CLIENT_ID = env.str("LINKEDIN_CLIENT_ID", default="")
LINKEDIN_CLIENT_SECRET = env.str("LINKEDIN_CLIENT_SECRET", default="")
LINKEDIN_OAUTH_URL = env.str("LINKEDIN_OAUTH_URL", default="https://www.linkedin.com/oauth/v2")
LINKEDIN_API_URL = env.str("LINKEDIN_API_URL", default="https://api.linkedin.com")
LINKEDIN_API_VERSION = env.str("LINKEDIN_API_VERSION", default="202610")
# --- LinkedIn media: upload hosts, and waiting for images and videos to be processed ---
# Upload addresses LinkedIn returns are used only on LINKEDIN_API_URL's own origin or on these https hosts.
LINKEDIN_UPLOAD_HOSTS = env.list("LINKEDIN_UPLOAD_HOSTS", default=["www.linkedin.com"])
# One publish polls the media status from LINKEDIN_MEDIA_POLL_SECONDS, doubling, for at most
# LINKEDIN_MEDIA_WAIT_SECONDS; then the post is rescheduled (LINKEDIN_MEDIA_RETRY_SECONDS later) on the
# same uploaded media; after LINKEDIN_MEDIA_PROCESSING_TIMEOUT of processing, attempts count as failed.
LINKEDIN_MEDIA_POLL_SECONDS = env.float("LINKEDIN_MEDIA_POLL_SECONDS", default=0.5)
LINKEDIN_MEDIA_WAIT_SECONDS = env.float("LINKEDIN_MEDIA_WAIT_SECONDS", default=15.0)
LINKEDIN_MEDIA_RETRY_SECONDS = env.float("LINKEDIN_MEDIA_RETRY_SECONDS", default=60.0)
LINKEDIN_MEDIA_PROCESSING_TIMEOUT = env.float("LINKEDIN_MEDIA_PROCESSING_TIMEOUT", default=3600.0)
MEDIA_PROCESSING_POLL_INTERVAL = env.float("MEDIA_PROCESSING_POLL_INTERVAL", default=5.0)
PLATFORM_HTTP_TIMEOUT = env.float("PLATFORM_HTTP_TIMEOUT", default=10.0)
# X GIF and video uploads: chunk size (X takes at most 5 MB), how long to wait for X to
# process the file, and a fixed poll interval (unset: X's own check_after_secs).
X_MEDIA_CHUNK_BYTES = env.int("X_MEDIA_CHUNK_BYTES", default=4 * 1024 * 1024)
X_MEDIA_PROCESSING_TIMEOUT = env.float("X_MEDIA_PROCESSING_TIMEOUT", default=300.0)
X_MEDIA_POLL_INTERVAL = env.float("X_MEDIA_POLL_INTERVAL", default=None)
# Local runs (.env from `make run` sets USE_PLATFORM_SIMULATOR=1): every platform URL not set explicitly
# points at the bundled simulator on SIMULATOR_PORT, so the port is chosen at start, not frozen in .env.
SIMULATOR_PORT = env.int("SIMULATOR_PORT", default=8100)
if env.bool("USE_PLATFORM_SIMULATOR", default=False):
    _simulator_url = f"http://127.0.0.1:{SIMULATOR_PORT}"
    for _name, _path in {"FACEBOOK_DIALOG_URL": "", "FACEBOOK_GRAPH_URL": "", "X_AUTHORIZE_URL": "/i/oauth2/authorize",
                         "X_API_URL": "", "LINKEDIN_OAUTH_URL": "/oauth/v2", "LINKEDIN_API_URL": ""}.items():
        if not env.str(_name, default=""):
            vars()[_name] = _simulator_url + _path
# --- Media the platform processes (Instagram containers, Facebook videos) ---
# Poll no faster than every MEDIA_PROCESSING_POLL_INTERVAL seconds (doubling up to the max); one
# publish call waits at most MEDIA_PROCESSING_WAIT_IN_CALL, then the post is re-scheduled and resumes
# on the same media; after MEDIA_PROCESSING_TIMEOUT of processing the attempt counts as failed.
MEDIA_PROCESSING_POLL_INTERVAL = env.float("MEDIA_PROCESSING_POLL_INTERVAL", default=5.0)
# Still images (Instagram image and carousel containers) are usually ready at once: polled from this instead.
MEDIA_PROCESSING_IMAGE_POLL_INTERVAL = env.float("MEDIA_PROCESSING_IMAGE_POLL_INTERVAL", default=1.0)
# How long a publish task waits in the call for a still image that was not ready at once: by default not at
# all. The post goes back to the queue (ProcessingPending) and a later task polls it again, so a rush of
# posts never waits for a publishing worker that is sleeping on an Instagram container.
MEDIA_PROCESSING_IMAGE_WAIT_IN_CALL = env.float("MEDIA_PROCESSING_IMAGE_WAIT_IN_CALL", default=0.0)
MEDIA_PROCESSING_POLL_MAX_INTERVAL = env.float("MEDIA_PROCESSING_POLL_MAX_INTERVAL", default=60.0)
MEDIA_PROCESSING_WAIT_IN_CALL = env.float("MEDIA_PROCESSING_WAIT_IN_CALL", default=20.0)
MEDIA_PROCESSING_TIMEOUT = env.float("MEDIA_PROCESSING_TIMEOUT", default=600.0)
INSTAGRAM_QUOTA_RESET_DEFAULT = env.float("INSTAGRAM_QUOTA_RESET_DEFAULT", default=3600.0)
GRAPH_RATE_LIMIT_DEFAULT_WAIT = env.float("GRAPH_RATE_LIMIT_DEFAULT_WAIT", default=900.0)

# Content rules (seed): maximum lengths per platform, counted as each platform counts them. Each
# adapter (platforms/<name>.py) owns its default; only the environment's overrides are kept here.
POST_MAX_LENGTH = {code: value for code, value in {
    "FACEBOOK": env.int("FACEBOOK_MAX_LENGTH", default=None),
    "INSTAGRAM": env.int("INSTAGRAM_MAX_LENGTH", default=None),
    "TWITTER": env.int("X_MAX_LENGTH", default=None),
    "LINKEDIN": env.int("LINKEDIN_MAX_LENGTH", default=None),
}.items() if value is not None}
INSTAGRAM_MAX_HASHTAGS = env.int("INSTAGRAM_MAX_HASHTAGS", default=None)  # unset: the adapter's 30
# Largest media file fetched or stored, by kind ("image", "video"); unset kinds: platforms/fetch.py's defaults.
MEDIA_MAX_BYTES = {}
# The media library (library/): the largest upload it reads, and the most pixels an image may decode to
# (a decompression bomb is refused before it is decoded). Stored copies fit every platform's limits.
MEDIA_LIBRARY_UPLOAD_MAX_BYTES = env.int("MEDIA_LIBRARY_UPLOAD_MAX_BYTES", default=20 * 1024 * 1024)
MEDIA_LIBRARY_MAX_PIXELS = env.int("MEDIA_LIBRARY_MAX_PIXELS", default=50_000_000)

# Outbound fetches of media addresses (platforms/fetch.py): hosts that may be reached even though
# they are loopback or private, as "host", "host:port", an IP or a network. Empty in production;
# `make run` lists the simulator and the site, tests list what they need.
FETCH_ALLOWED_HOSTS = env.list("FETCH_ALLOWED_HOSTS", default=[])
if env.bool("USE_PLATFORM_SIMULATOR", default=False) and "FETCH_ALLOWED_HOSTS" not in env.ENVIRON:
    # Local runs: the simulator's sample media and this site's own media, on the ports chosen at start.
    FETCH_ALLOWED_HOSTS = [f"127.0.0.1:{SIMULATOR_PORT}", urlsplit(SITE_URL).netloc]

# Connections: how far ahead tokens are refreshed and when staff are warned.
TOKEN_REFRESH_INTERVAL_SECONDS = env.int("TOKEN_REFRESH_INTERVAL_SECONDS", default=300)
# Rotating tokens: overrides of the adapters' own lead times (X 30 minutes, LinkedIn 7 days).
TOKEN_REFRESH_AHEAD_SECONDS = {code: value for code, value in {
    "TWITTER": env.int("X_REFRESH_AHEAD_SECONDS", default=None),
    "LINKEDIN": env.int("LINKEDIN_REFRESH_AHEAD_SECONDS", default=None),
}.items() if value is not None}
TOKEN_EXPIRY_WARNING_DAYS = env.int("TOKEN_EXPIRY_WARNING_DAYS", default=7)
# Staff notifications: how often the scan looks for failed posts and expiring sign-ins (it is also the
# warning window's resolution: a connection inside TOKEN_EXPIRY_WARNING_DAYS is announced once per sign-in),
# and how often the daily summaries go out.
NOTIFICATION_SCAN_INTERVAL_SECONDS = env.int("NOTIFICATION_SCAN_INTERVAL_SECONDS", default=300)
NOTIFICATION_DIGEST_INTERVAL_SECONDS = env.int("NOTIFICATION_DIGEST_INTERVAL_SECONDS", default=86400)
OAUTH_STATE_TTL_SECONDS = env.int("OAUTH_STATE_TTL_SECONDS", default=600)

# Publishing.
# When nothing is due the scan is a handful of index probes and its heartbeat; a post waits for the next
# scan, so this is most of the lag of a post that falls due on a quiet queue, and how long an Instagram
# image handed back to the queue (MEDIA_PROCESSING_IMAGE_WAIT_IN_CALL) waits to be taken up again.
PUBLISH_SCAN_INTERVAL_SECONDS = env.float("PUBLISH_SCAN_INTERVAL_SECONDS", default=1.0)
PUBLISH_MAX_ATTEMPTS = env.int("PUBLISH_MAX_ATTEMPTS", default=5)
PUBLISH_BACKOFF_BASE_SECONDS = env.float("PUBLISH_BACKOFF_BASE_SECONDS", default=30.0)
PUBLISH_BACKOFF_MAX_SECONDS = env.float("PUBLISH_BACKOFF_MAX_SECONDS", default=30 * 60.0)
PUBLISH_MISSED_WINDOW_SECONDS = env.int("PUBLISH_MISSED_WINDOW_SECONDS", default=6 * 3600)
PUBLISH_STUCK_AFTER_SECONDS = env.int("PUBLISH_STUCK_AFTER_SECONDS", default=10 * 60)
PUBLISH_BATCH_SIZE = env.int("PUBLISH_BATCH_SIZE", default=500)
# Publishing at scale: a scan claims batch after batch until nothing is due or its budget is
# spent; claims whose task never started are re-sent after a while; the reconciler's look-back.
PUBLISH_SCAN_BUDGET_SECONDS = env.float("PUBLISH_SCAN_BUDGET_SECONDS", default=8.0)
PUBLISH_QUEUED_RESEND_AFTER_SECONDS = env.int("PUBLISH_QUEUED_RESEND_AFTER_SECONDS", default=30 * 60)
PUBLISH_RECONCILE_MAX_PAGES = env.int("PUBLISH_RECONCILE_MAX_PAGES", default=20)
PUBLISH_RECONCILE_CLOCK_SKEW_SECONDS = env.int("PUBLISH_RECONCILE_CLOCK_SKEW_SECONDS", default=2)
_task_routing.check_time_limits(limits=CELERY_TIME_LIMITS, stuck_after=PUBLISH_STUCK_AFTER_SECONDS)

# Metrics: sync cadence by post age, as (age up to, interval) in hours; stop after the last.
METRICS_SYNC_INTERVAL_SECONDS = env.int("METRICS_SYNC_INTERVAL_SECONDS", default=300)
METRICS_CADENCE_HOURS = [(6, 1), (24, 3), (72, 12), (30 * 24, 24)]
# Metric sync cost: stop following a post whose counts were unchanged this many syncs in a row (once it
# is METRICS_STABLE_MIN_AGE_HOURS old); platform calls per tenant per month (0 = unlimited; a tenant
# may override it); posts read per query; snapshots older than METRICS_SNAPSHOT_HOURLY_DAYS kept daily.
METRICS_STABLE_SYNCS_TO_STOP = env.int("METRICS_STABLE_SYNCS_TO_STOP", default=3)
METRICS_STABLE_MIN_AGE_HOURS = env.int("METRICS_STABLE_MIN_AGE_HOURS", default=24)
METRICS_MONTHLY_READ_BUDGET = env.int("METRICS_MONTHLY_READ_BUDGET", default=0)
METRICS_SYNC_LOCK_SECONDS = env.int("METRICS_SYNC_LOCK_SECONDS", default=3600)
METRICS_SNAPSHOT_HOURLY_DAYS = env.int("METRICS_SNAPSHOT_HOURLY_DAYS", default=7)
METRICS_SNAPSHOT_PRUNE_INTERVAL_SECONDS = env.int("METRICS_SNAPSHOT_PRUNE_INTERVAL_SECONDS", default=3600)

# Promotions.
PROMOTION_DISPATCH_INTERVAL_SECONDS = env.int("PROMOTION_DISPATCH_INTERVAL_SECONDS", default=60)
INBOUND_EVENT_MAX_AGE_SECONDS = env.int("INBOUND_EVENT_MAX_AGE_SECONDS", default=300)
SMS_QUIET_HOURS = (env.int("SMS_QUIET_START_HOUR", default=21), env.int("SMS_QUIET_END_HOUR", default=8))
EMAIL_BATCH_SIZE = env.int("EMAIL_BATCH_SIZE", default=200)

LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "context": {"()": "socialcrm.observability.ContextFilter"},
        "scrub": {"()": "platforms.scrub.ScrubFilter"},
        "redact_urls": {"()": "socialcrm.redaction.UrlRedactionFilter"},  # no OAuth codes or unsubscribe tokens
    },
    "formatters": {"json": {"()": "socialcrm.observability.JsonFormatter"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "json", "filters": ["context", "scrub", "redact_urls"]},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "urllib3": {"level": "WARNING"},
    },
}

# Promotions
SMS_GATEWAY_TIMEOUT = env.float("SMS_GATEWAY_TIMEOUT", default=10.0)
# A dispatch whose planner died (no progress this long) is claimed again and planning carries on;
# its chunks have their own leases (PROMOTION_CHUNK_LEASE_SECONDS).
PROMOTION_DISPATCH_STALE_SECONDS = env.int("PROMOTION_DISPATCH_STALE_SECONDS", default=120)
# Deliveries claimed (one UPDATE ... RETURNING) and recorded per batch of this many.
PROMOTION_DISPATCH_BATCH_SIZE = env.int("PROMOTION_DISPATCH_BATCH_SIZE", default=100)
SMS_STOP_WORDS = env.list("SMS_STOP_WORDS", default=["STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"])
# A reminder whose moment passed this long ago while the scheduler was down is skipped, not sent late.
PROMOTION_MISSED_WINDOW_SECONDS = env.int("PROMOTION_MISSED_WINDOW_SECONDS", default=3 * 3600)

# Promotion sending at scale: chunks, leases, retries.
# Members per chunk: one task sends one chunk; chunks of one dispatch run on as many workers as there are.
PROMOTION_SEND_CHUNK_SIZE = env.int("PROMOTION_SEND_CHUNK_SIZE", default=1000)
# Sending steps aside while more than PROMOTION_YIELD_BACKLOG posts are due or being published (0: never),
# for at most PROMOTION_YIELD_MAX_SECONDS per sending task (promotions.dispatching.PublishingFirst).
PROMOTION_YIELD_BACKLOG = env.int("PROMOTION_YIELD_BACKLOG", default=50)
PROMOTION_YIELD_MAX_SECONDS = env.float("PROMOTION_YIELD_MAX_SECONDS", default=60.0)
# A running chunk renews its lease as it goes; one whose lease ran out (its worker died) is handed on.
PROMOTION_CHUNK_LEASE_SECONDS = env.int("PROMOTION_CHUNK_LEASE_SECONDS", default=30)
# How long a queued chunk may wait for a worker before the reaper queues it again (a lost task).
PROMOTION_CHUNK_START_GRACE_SECONDS = env.int("PROMOTION_CHUNK_START_GRACE_SECONDS", default=300)
PROMOTION_CHUNK_REAP_INTERVAL_SECONDS = env.int("PROMOTION_CHUNK_REAP_INTERVAL_SECONDS", default=15)
# Transient provider errors (SMTP connection trouble or 4xx, gateway 5xx/429/timeouts) are retried
# with exponential backoff and jitter, up to this many attempts per member.
PROMOTION_SEND_MAX_ATTEMPTS = env.int("PROMOTION_SEND_MAX_ATTEMPTS", default=4)
PROMOTION_SEND_RETRY_BASE_SECONDS = env.float("PROMOTION_SEND_RETRY_BASE_SECONDS", default=10.0)
PROMOTION_SEND_RETRY_MAX_SECONDS = env.float("PROMOTION_SEND_RETRY_MAX_SECONDS", default=300.0)

# Logins and API tokens
# Axes locks out a (username, address) pair after AXES_FAILURE_LIMIT wrong passwords, on the staff
# login page, the admin login and the API token endpoint, for AXES_COOLOFF_MINUTES.
AUTHENTICATION_BACKENDS = [
    "crm.auth_backends.LoginLockoutBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_MINUTES = env.int("AXES_COOLOFF_MINUTES", default=15)
AXES_COOLOFF_TIME = timedelta(minutes=AXES_COOLOFF_MINUTES)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "crm.lockout.lockout_response"
AXES_HTTP_RESPONSE_CODE = 429
# API tokens stop working this many days after they were issued; a new POST to /api/v1/auth/token/ issues another.
API_TOKEN_TTL_DAYS = env.int("API_TOKEN_TTL_DAYS", default=90)

# Inbound events and STOP replies
# A STOP reply from a number in national format ("07700 900123") is read as a number of this region (ISO code, e.g. GB).
SMS_DEFAULT_REGION = env.str("SMS_DEFAULT_REGION", default="")

# Content-Security-Policy: scripts and styles come only from our static files; nothing
# inline, nothing from another origin. The platforms' consent pages are added to form-action at
# request time (socialcrm/csp.py), from the same settings the adapters build their URLs with.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "frame-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    },
}
