"""A form base that shows a service's refusal by field (InvalidCredential, InvalidNotificationInput) on its fields."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar, Protocol

from django import forms


class FieldErrors(Protocol):
    """A service's bad-input exception: its problems by field name."""

    @property
    def errors(self) -> Mapping[str, list[str]]: ...


class ServiceErrorsForm(forms.Form):
    """``service_fields`` maps a service's field name to this form's field that chose it, where they differ."""

    service_fields: ClassVar[dict[str, str]] = {}

    def add_service_errors(self, exc: FieldErrors) -> None:
        for key, problems in exc.errors.items():
            name = self.service_fields.get(key, key)
            for message in problems:
                self.add_error(name if name in self.fields else None, message)
