"""What a browser posts for a credential form: filled in from scratch, or sent back untouched."""

from __future__ import annotations

import uuid
from typing import Any

from django import forms


def add_data(type_slug: str, fields: dict[str, Any], **attributes: str) -> dict[str, str]:
    """The add form as a person fills it in: attributes, then the type's fields (prefixed)."""
    data = {
        "name": f"{type_slug}-{uuid.uuid4().hex[:6]}",
        "environment": "production",
        "team": "",
        "description": "",
        "tags": "",
        "expires_at": "",
        "allowed_hosts": "",
    }
    data.update(attributes)
    for name, value in fields.items():
        if value is True:
            data[f"field__{name}"] = "on"
        elif value is not False:
            data[f"field__{name}"] = str(value)
    return data


def data_sent_back(form: forms.Form) -> dict[str, str]:
    """What a browser sends back from a rendered form when nothing is touched."""
    data: dict[str, str] = {}
    for name, field in form.fields.items():
        value = form[name].value()
        if isinstance(field.widget, forms.CheckboxInput):
            if value:
                data[name] = "on"
            continue
        shown = field.widget.format_value(value)
        if isinstance(shown, list):
            shown = shown[0] if shown else ""
        data[name] = "" if shown is None else str(shown)
    return data
