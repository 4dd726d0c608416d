"""The Celery app: Redis as broker (CELERY_BROKER_URL); without one, tasks run in-process."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("latchkey")
# Every CELERY_* Django setting, read lazily: nothing connects or reads settings at import.
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
