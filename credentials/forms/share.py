"""The share forms' fields (site and admin): one user or one group, by name, the permissions to grant, and an end.

The two name inputs each carry a <datalist> that latchkey/share_picker.js fills as the user types, from
GET /api/share-candidates/ (no inline script: the Content-Security-Policy stays as it is).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.forms.renderers import BaseRenderer
from django.utils.html import format_html
from django.utils.safestring import SafeString

from credentials.forms.service_errors import ServiceErrorsForm
from credentials.permissions import SHAREABLE

PERMISSION_DESCRIPTIONS = {
    "use": "Use: run tests and clones with it, never see it",
    "view": "View: see its details and non-secret fields",
    "change": "Change: edit it and replace its secrets",
}
PERMISSION_CHOICES = [(action, PERMISSION_DESCRIPTIONS[action]) for action in SHAREABLE]


class CandidateInput(forms.TextInput):
    """A name input offering the users or groups (``kind``) whose names start with what was typed."""

    def __init__(self, kind: str) -> None:
        super().__init__(attrs={"data-share-candidates": kind, "autocomplete": "off", "spellcheck": "false"})

    def render(
        self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: BaseRenderer | None = None
    ) -> SafeString:
        list_id = f"{(attrs or {}).get('id', name)}_candidates"
        field = super().render(name, value, {**(attrs or {}), "list": list_id}, renderer)
        return field + format_html('<datalist id="{}"></datalist>', list_id)


class ShareForm(ServiceErrorsForm):
    user = forms.CharField(
        required=False,
        max_length=150,
        label="User name",
        widget=CandidateInput("user"),
        help_text="Type two letters or more to pick from the matching users.",
    )
    group = forms.CharField(
        required=False,
        max_length=150,
        label="or group",
        widget=CandidateInput("group"),
        help_text="Everyone in the group, now and later.",
    )
    permissions = forms.MultipleChoiceField(
        choices=PERMISSION_CHOICES, widget=forms.CheckboxSelectMultiple, initial=["use"], label="May"
    )
    expires_at = forms.DateTimeField(
        required=False,
        label="Until",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        # A datetime-local input sends no zone: Django reads it in the current one, settings.TIME_ZONE.
        help_text=f"Optional, in {settings.TIME_ZONE}: the share ends then. To extend or shorten a share, share "
        "again with the new end; leave it empty for no end.",
    )

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data  # what Form.clean() returns, typed as never None
        username = (cleaned.get("user") or "").strip()
        group_name = (cleaned.get("group") or "").strip()
        cleaned["user"] = cleaned["group"] = None
        if bool(username) == bool(group_name):
            raise forms.ValidationError("Name one user or one group.")
        if username:
            cleaned["user"] = get_user_model().objects.filter(username=username, is_active=True).first()
            if cleaned["user"] is None:
                self.add_error("user", "No active user has this user name.")
        else:
            cleaned["group"] = _group_named(group_name)
            if cleaned["group"] is None:
                self.add_error("group", "No group has this name.")
        return cleaned

    def grantee(self) -> dict[str, Any]:
        return {"user": self.cleaned_data["user"], "group": self.cleaned_data["group"]}

    def end(self) -> datetime | None:
        return self.cleaned_data.get("expires_at")


def _group_named(name: str) -> Group | None:
    """The group of that exact name, else the only one whose name differs from it in case alone."""
    exact = Group.objects.filter(name=name).first()
    if exact is not None:
        return exact
    alike = list(Group.objects.filter(name__iexact=name)[:2])
    return alike[0] if len(alike) == 1 else None
