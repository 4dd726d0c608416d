"""The list page's filters: type, environment, tag, search and expiry, checked like any other input."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, cast

from django import forms
from django.db.models import QuerySet

from credentials.models import CredentialType

EXPIRY_CHOICES = [
    ("", "Any expiry"),
    ("7", "Expiring within 7 days"),
    ("30", "within 30 days"),
    ("90", "within 90 days"),
]


class CredentialFilterForm(forms.Form):
    type = forms.ChoiceField(required=False, label="Type")
    environment = forms.SlugField(required=False, max_length=64, label="Environment")
    tag = forms.CharField(required=False, max_length=100, label="Tag")
    search = forms.CharField(required=False, max_length=200, label="Name contains")
    expiring_within = forms.ChoiceField(required=False, choices=EXPIRY_CHOICES, label="Expiry")

    def __init__(self, *args: Any, credential_types: QuerySet[CredentialType], **kwargs: Any):
        super().__init__(*args, **kwargs)
        type_field = cast(forms.ChoiceField, self.fields["type"])
        type_field.choices = [("", "Any type")] + [(t.slug, t.name) for t in credential_types]

    def selector_arguments(self) -> dict[str, Any]:
        """The valid filters, as ``credential_list_for_user`` takes them; none when the input is bad."""
        if not self.is_valid():
            return {}
        data = self.cleaned_data
        days = data["expiring_within"]
        return {
            "type_slug": data["type"] or None,
            "environment": data["environment"] or None,
            "tag": data["tag"].strip() or None,
            "search": data["search"].strip() or None,
            "expiring_within": timedelta(days=int(days)) if days else None,
        }
