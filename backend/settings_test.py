"""Settings for the test suite: the production settings with a throwaway key."""

import os

os.environ.setdefault("SECRET_KEY", "test-only-secret-key")

from backend.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
ALLOWED_HOSTS = ["*"]
