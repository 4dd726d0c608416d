"""The access pages' forms: a request for use or view, a denial's reason, and who may request a credential."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib.auth.models import Group

from credentials.access.rules import MAX_REASON
from credentials.forms.service_errors import ServiceErrorsForm
from credentials.forms.share import CandidateInput


class AccessRequestForm(ServiceErrorsForm):
    permission = forms.ChoiceField(
        choices=[("use", "Use: run tests and clones with it, never see it"), ("view", "View: see its details")],
        widget=forms.RadioSelect,
        initial="use",
        label="Ask for",
    )
    # The service holds the number to the credential's cap; the input only says what it is.
    hours = forms.IntegerField(label="For how many hours", initial=8)
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=MAX_REASON, label="Why")

    def __init__(self, *args: object, cap: int, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["hours"].help_text = f"At most {cap}; the grant ends that long after it is approved."
        self.fields["hours"].widget.attrs.update(min=1, max=cap)


class DenyForm(ServiceErrorsForm):
    reason = forms.CharField(max_length=MAX_REASON, label="Why not", help_text="The requester reads it.")


class RequestableForm(ServiceErrorsForm):
    who = forms.ChoiceField(
        choices=[("nobody", "Nobody"), ("group", "Members of a group"), ("everyone", "Everyone signed in")],
        widget=forms.RadioSelect,
        label="Who may request access",
    )
    # A name with the share page's picker, as on the share form: no list of every group on the page.
    group = forms.CharField(
        required=False,
        max_length=150,
        label="Group",
        widget=CandidateInput("group"),
        help_text="With “Members of a group”: type two letters or more to pick it.",
    )
    max_access_hours = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=settings.ACCESS_REQUEST_MAX_HOURS,
        label="Longest grant, in hours",
        help_text=f"Empty: {settings.ACCESS_REQUEST_MAX_HOURS} (ACCESS_REQUEST_MAX_HOURS).",
    )

    def clean(self) -> dict[str, object]:
        cleaned = super().clean() or {}
        name = (cleaned.get("group") or "").strip()
        cleaned["group"] = None
        if cleaned.get("who") == "group":
            if not name:
                self.add_error("group", "Name the group whose members may request it.")
            else:
                cleaned["group"] = Group.objects.filter(name=name).first()
                if cleaned["group"] is None:
                    self.add_error("group", "No group has this name.")
        return cleaned
