"""WSGI entry point (gunicorn config.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

application = get_wsgi_application()

# Fail at start-up, not at the first request, when the key ring or the audit keys are missing or malformed.
from audit.keys import get_audit_keys  # noqa: E402
from credentials.keys.ring import get_keyring  # noqa: E402

get_keyring()
get_audit_keys()
