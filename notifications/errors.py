"""What the notification services raise; each face maps these to its own answer (404, 400)."""

from __future__ import annotations

from collections.abc import Mapping


class EndpointNotFound(Exception):
    """No such webhook endpoint, or the caller may not manage it: the same answer for both."""

    def __init__(self, message: str = "Webhook endpoint not found."):
        super().__init__(message)


class InvalidNotificationInput(Exception):
    """Bad input, by field name."""

    def __init__(self, errors: Mapping[str, list[str]]):
        self.errors = dict(errors)
        super().__init__(str(self.errors))

    def as_dict(self) -> dict[str, list[str]]:
        return dict(self.errors)


class TestEventsThrottled(InvalidNotificationInput):
    """Too many test events to one endpoint within a minute (the API answers 429)."""

    def __init__(self, limit: int):
        super().__init__({"endpoint": [f"At most {limit} test events a minute to one endpoint; try again shortly."]})
