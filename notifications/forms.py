"""The notification pages' forms: one row of the subscriptions table, a new webhook endpoint, an endpoint's settings."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django import forms
from django.contrib.auth.models import Group

from credentials.forms.service_errors import ServiceErrorsForm
from notifications.kinds import SUBSCRIBABLE, EmailMode, EventKind, Preference, Scope
from notifications.webhooks.endpoints import MAX_NAME
from notifications.webhooks.urls import MAX_URL

# Short words for a table cell; the page's introduction says what each scope covers.
SCOPE_CHOICES = [(Scope.MINE.value, "Mine"), (Scope.VISIBLE.value, "All I may see")]
EMAIL_CHOICES = [(EmailMode.OFF.value, "Off"), (EmailMode.IMMEDIATE.value, "Each"), (EmailMode.DIGEST.value, "Digest")]
EVENT_CHOICES = [(event, EventKind(event).label) for event in SUBSCRIBABLE]
ME, GLOBAL, TEAM_PREFIX = "me", "global", "team:"


class SubscriptionRowForm(ServiceErrorsForm):
    """How one event reaches me; the page holds one per subscribable event, prefixed by its name."""

    scope = forms.ChoiceField(choices=SCOPE_CHOICES, label="For")
    email = forms.ChoiceField(choices=EMAIL_CHOICES, label="E-mail")
    webhook = forms.BooleanField(required=False, label="To my webhooks")

    def preference(self) -> Preference:
        data = self.cleaned_data
        return Preference(data["scope"], data["email"], data["webhook"])


def initial_of(preference: Preference) -> dict[str, Any]:
    return {"scope": preference.scope, "email": preference.email, "webhook": preference.webhook}


class EndpointFields(ServiceErrorsForm):
    """What a person types about an endpoint; the service judges the URL (scheme, host, address)."""

    name = forms.CharField(max_length=MAX_NAME)
    url = forms.CharField(
        max_length=MAX_URL,
        label="URL",
        help_text="Where each event is POSTed, signed (https://hooks.example.com/latchkey). No redirect is followed.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false", "inputmode": "url"}),
    )
    events = forms.MultipleChoiceField(
        choices=EVENT_CHOICES,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: every event.",
    )


class EndpointCreateForm(EndpointFields):
    """A new endpoint, and whose it is: mine, a team's I manage, or global (administrators)."""

    # A name from a list the page offers; the service says whether this person may choose it.
    owner = forms.CharField(label="Whose", widget=forms.Select)
    service_fields = {"team": "owner", "is_global": "owner"}

    def __init__(self, *args: Any, teams: Iterable[Group], may_be_global: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        offered = [(ME, "Mine")] + [(f"{TEAM_PREFIX}{team.pk}", f"Team {team.name}") for team in teams]
        if may_be_global:
            offered.append((GLOBAL, "Global (the administrators')"))
        self.fields["owner"].widget.choices = offered
        self.fields["owner"].initial = ME

    def clean_owner(self) -> dict[str, Any]:
        owner = self.cleaned_data["owner"]
        if owner == ME:
            return {"team": None, "is_global": False}
        if owner == GLOBAL:
            return {"team": None, "is_global": True}
        team_id = owner.removeprefix(TEAM_PREFIX)
        # A short run of ASCII digits or nothing: an id, never a number the database must refuse.
        named = owner.startswith(TEAM_PREFIX) and team_id.isascii() and team_id.isdigit() and len(team_id) < 10
        team = Group.objects.filter(pk=int(team_id)).first() if named else None
        if team is None:
            raise forms.ValidationError("Choose yourself, a team you manage, or global.")
        return {"team": team, "is_global": False}


class EndpointSettingsForm(EndpointFields):
    """An endpoint's settings on its page; its owner is chosen once, when it is made."""

    # Turning it on again clears its failures; the page says so beside the endpoint's state.
    is_active = forms.BooleanField(required=False, label="Active")
