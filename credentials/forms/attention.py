"""The "Needs attention" page's filters: a section, the two windows (within ceilings) and the order."""

from __future__ import annotations

from typing import Any

from django import forms
from django.http import QueryDict

from credentials.attention import DEFAULT_DAYS, DEFAULT_UNUSED_DAYS, MAX_DAYS, ORDERINGS, SECTIONS

SECTION_LABELS = {
    "expired": "Expired",
    "expiring": "Expiring soon",
    "failing": "Failing",
    "flagged": "Flagged",
    "never_tested": "Never tested",
    "unused": "Unused",
}
ORDER_LABELS = {
    "name": "Name, A to Z",
    "-name": "Name, Z to A",
    "expires_at": "Expiry, soonest first",
    "-expires_at": "Expiry, latest first",
    "-test_failures": "Failures in a row, most first",
    "test_failures": "Failures in a row, fewest first",
    "last_tested": "Last test, oldest first",
    "-last_tested": "Last test, newest first",
    "last_used_at": "Last used, longest ago first",
    "-last_used_at": "Last used, most recent first",
    "created_at": "Created, oldest first",
    "-created_at": "Created, newest first",
}


class _Days(forms.IntegerField):
    """A number of days, 1 to MAX_DAYS; its length is checked before it is converted (invariant 12)."""

    def to_python(self, value: Any) -> int | None:
        if isinstance(value, str) and len(value.strip()) > len(str(MAX_DAYS)):
            raise forms.ValidationError(f"Ensure this value is less than or equal to {MAX_DAYS}.", code="max_value")
        return super().to_python(value)


def _days(label: str, initial: int) -> _Days:
    return _Days(min_value=1, max_value=MAX_DAYS, initial=initial, label=label)


class AttentionFilterForm(forms.Form):
    section = forms.ChoiceField(
        required=False,
        choices=[("", "All that need attention"), *((name, SECTION_LABELS[name]) for name in SECTIONS)],
        label="Section",
    )
    days = _days("Expiring within (days)", DEFAULT_DAYS)
    unused_days = _days("Unused for (days)", DEFAULT_UNUSED_DAYS)
    order = forms.ChoiceField(
        required=False,
        choices=[("", "Each section's own order"), *((name, ORDER_LABELS[name]) for name in ORDERINGS)],
        label="Sort by",
    )

    @classmethod
    def from_query(cls, query: QueryDict) -> AttentionFilterForm:
        """Bound to the query string, with the windows' defaults where it leaves them out."""
        data: dict[str, Any] = {"days": str(DEFAULT_DAYS), "unused_days": str(DEFAULT_UNUSED_DAYS)}
        data.update({name: query.get(name) for name in cls.base_fields if name in query})
        return cls(data)

    def selector_arguments(self) -> dict[str, Any]:
        """The valid filters, as ``credentials_needing_attention_for_user`` takes them (call is_valid() first)."""
        data = self.cleaned_data
        return {
            "days": data["days"],
            "unused_days": data["unused_days"],
            "section": data["section"] or None,
            "order": data["order"] or None,
        }
