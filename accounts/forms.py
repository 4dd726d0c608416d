"""The form that names a new API token."""

from __future__ import annotations

from django import forms

from accounts.errors import InvalidTokenRequest
from accounts.models import TOKEN_NAME_MAX_LENGTH


class TokenCreateForm(forms.Form):
    name = forms.CharField(
        max_length=TOKEN_NAME_MAX_LENGTH,
        help_text="What uses it, so that you know what breaks when you revoke it (\u201cCI deploys\u201d).",
    )

    def add_service_errors(self, error: InvalidTokenRequest) -> None:
        for name, messages in error.errors.items():
            for message in messages:
                self.add_error(None if name == "__all__" else name, message)
