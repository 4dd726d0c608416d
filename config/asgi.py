"""ASGI entry point."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

application = get_asgi_application()

# Fail at start-up, not at the first request, when the key ring is missing or malformed.
from credentials.keys.ring import get_keyring  # noqa: E402

get_keyring()
