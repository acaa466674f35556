"""Settings for the test suite: the same settings, with test keys and fast hashing."""

import os

# The suite is configured here and by the environment only, never by the developer's `.env` from `make run`
# (processes the suite starts inherit this too).
os.environ["SOCIALCRM_IGNORE_DOTENV"] = "1"
os.environ.setdefault("SECRET_KEY", "test-secret-key-for-the-suite-only-0123456789abcdef")
os.environ.setdefault(
    "TOKEN_ENCRYPTION_KEYS",
    "test2:" + "A" * 43 + ",test1:" + "B" * 43,
)
os.environ.setdefault("CELERY_BROKER_URL", "memory://")

if not os.environ.get("DATABASE_URL"):
    # No database given: a throwaway PostgreSQL (bundled, free port, fsync off) for this run, removed at exit.
    # DATABASE_URL is set for this process and inherited by what it starts (xdist workers, Celery processes).
    import atexit

    from socialcrm.devdb import remove_throwaway, throwaway_cluster

    _cluster = throwaway_cluster()
    atexit.register(remove_throwaway, _cluster, os.getpid())
    os.environ["DATABASE_URL"] = _cluster.url()

from socialcrm.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# The tracking webhook of the provider the bundled mail stand-in plays, with test-only keys.
EMAIL_TRACKING_PROVIDERS = ["mailgun"]
ANYMAIL = {**ANYMAIL, "MAILGUN_API_KEY": "test-mailgun-key", "MAILGUN_SENDER_DOMAIN": "mail.test.example",  # noqa: F405
           "MAILGUN_WEBHOOK_SIGNING_KEY": "test-mailgun-signing-key"}
STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}  # noqa: F405
MEDIA_ROOT = os.path.join(VAR_DIR, "test-media")  # noqa: F405
# Media processing: short polls and waits so tests drive several resume cycles quickly.
MEDIA_PROCESSING_POLL_INTERVAL = 0.05
MEDIA_PROCESSING_POLL_MAX_INTERVAL = 0.2
MEDIA_PROCESSING_WAIT_IN_CALL = 2.0
# Most tests publish an Instagram image in one call; the product's default (no waiting in the call,
# the post goes back to the queue) is tested on its own in posts/tests/test_meta_processing.py.
MEDIA_PROCESSING_IMAGE_WAIT_IN_CALL = 2.0
