"""Settings for the test suite: the production settings with a throwaway key."""

import os

os.environ.setdefault("SECRET_KEY", "test-only-secret-key")

from backend.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
ALLOWED_HOSTS = ["*"]

# Two test runs side by side (two checkouts' worth of work on one machine) each need their
# own throwaway database: TEST_DATABASE_NAME=test_mine .venv/bin/pytest
if os.environ.get("TEST_DATABASE_NAME"):
    _test_name = os.environ["TEST_DATABASE_NAME"]
    if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
        _test_name = str(BASE_DIR / f"{_test_name}.sqlite3")  # noqa: F405
    DATABASES["default"].setdefault("TEST", {})["NAME"] = _test_name  # noqa: F405
