"""The share page's form: one user (by username) or one group, and the permissions to grant."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from credentials.errors import InvalidCredential
from credentials.permissions import SHAREABLE

PERMISSION_DESCRIPTIONS = {
    "use": "Use: run tests and clones with it, never see it",
    "view": "View: see its details and non-secret fields",
    "change": "Change: edit it and replace its secrets",
}
PERMISSION_CHOICES = [(action, PERMISSION_DESCRIPTIONS[action]) for action in SHAREABLE]


class ShareForm(forms.Form):
    user = forms.CharField(required=False, max_length=150, label="User name")
    group = forms.ModelChoiceField(queryset=Group.objects.order_by("name"), required=False, label="or group")
    permissions = forms.MultipleChoiceField(
        choices=PERMISSION_CHOICES, widget=forms.CheckboxSelectMultiple, initial=["use"], label="May"
    )

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data  # what Form.clean() returns, typed as never None
        username = (cleaned.get("user") or "").strip()
        group = cleaned.get("group")
        if bool(username) == (group is not None):
            raise forms.ValidationError("Name one user or choose one group.")
        if username:
            user = get_user_model().objects.filter(username=username, is_active=True).first()
            if user is None:
                self.add_error("user", "No active user has this user name.")
            cleaned["user"] = user
        else:
            cleaned["user"] = None
        return cleaned

    def grantee(self) -> dict[str, Any]:
        return {"user": self.cleaned_data["user"], "group": self.cleaned_data["group"]}

    def add_service_errors(self, exc: InvalidCredential) -> None:
        for key, problems in exc.errors.items():
            for message in problems:
                self.add_error(key if key in self.fields else None, message)
