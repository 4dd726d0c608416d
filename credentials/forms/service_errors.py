"""A form base that shows a service's InvalidCredential on the form's own fields (the share and access forms)."""

from __future__ import annotations

from django import forms

from credentials.errors import InvalidCredential


class ServiceErrorsForm(forms.Form):
    def add_service_errors(self, exc: InvalidCredential) -> None:
        for key, problems in exc.errors.items():
            for message in problems:
                self.add_error(key if key in self.fields else None, message)
