"""Errors the apps' services share; each face maps them to its own answer (the API's is a 503)."""

from __future__ import annotations


class QueueUnavailable(Exception):
    """The task queue (the Celery broker) cannot be reached: nothing was queued or left running."""

    def __init__(self, message: str = "The task queue is unavailable; try again in a minute."):
        super().__init__(message)
