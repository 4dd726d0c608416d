"""Settings for the test suite: the environment's, with a throwaway secret key and key ring."""

import os
import tempfile

from cryptography.fernet import Fernet

# Set in the environment, not only here, so processes the tests start (a worker) share them.
os.environ.setdefault("SECRET_KEY", "test-suite-only")
os.environ.setdefault("FERNET_KEYS", Fernet.generate_key().decode())
os.environ.setdefault("AUDIT_KEYS", Fernet.generate_key().decode())
os.environ["DEBUG"] = "0"
# Checkouts in a directory of this run's own, shared with the worker processes it starts.
os.environ.setdefault("PLUGINS_ROOT", tempfile.mkdtemp(prefix="latchkey-test-plugins-"))
# The servers the integration tests start listen on loopback; tests of refusals list nothing.
os.environ.setdefault("OUTBOUND_ALLOWED_NETWORKS", "127.0.0.0/8,::1/128")
# The webhook receivers the tests start speak plain HTTP on loopback; production requires https.
os.environ.setdefault("WEBHOOK_REQUIRE_HTTPS", "0")

from config.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast logins in tests
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = False  # the test client speaks plain HTTP

# An app that adds a credential type from its own credential_types.py module.
INSTALLED_APPS = [*INSTALLED_APPS, "tests.typeapp"]  # noqa: F405

# Static files come from the apps' folders (as in DEBUG), not from a collected STATIC_ROOT.
WHITENOISE_AUTOREFRESH = True
