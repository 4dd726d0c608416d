"""Project configuration: settings from the environment, URLs, WSGI and ASGI entry points, the Celery app."""

# Loaded with Django, so that tasks queued from web processes use this app and its settings.
from config.celery import app as celery_app

__all__ = ("celery_app",)
