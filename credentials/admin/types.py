"""The Django admin for credential types: schema and test spec edited as JSON, checked before saving."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.actions import delete_selected as django_delete_selected
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest

from config.json_depth import MAX_JSON_DEPTH, too_deep
from credentials import types
from credentials.models import CredentialType
from credentials.testers.custom import validate_test_spec


class SchemaJSONField(forms.JSONField):
    """JSON shown indented, so a schema of several fields can be read and edited; nested at most MAX_JSON_DEPTH."""

    def to_python(self, value: Any) -> Any:
        try:
            converted = super().to_python(value)
            deep = too_deep(converted)
        except RecursionError:  # Django's JSONField catches only JSONDecodeError: a 500
            deep = True
        if deep:
            raise ValidationError(f"Nested too deeply (more than {MAX_JSON_DEPTH} levels).", code="invalid")
        return converted

    def bound_data(self, data: Any, initial: Any) -> Any:
        # Shown again as typed: indenting a deep document would recurse as deep as it nests.
        try:
            bound = super().bound_data(data, initial)
            deep = too_deep(bound)
        except RecursionError:
            deep = True
        return forms.fields.InvalidJSONInput(data) if deep else bound

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, forms.fields.InvalidJSONInput):
            return value
        return json.dumps(value, indent=2, ensure_ascii=False, cls=self.encoder)


class CredentialTypeForm(forms.ModelForm):
    schema = SchemaJSONField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 20, "cols": 80, "spellcheck": "false"}),
        help_text="A JSON list of fields: name, label, type (string, number, boolean, options, hidden), "
        "input, secret, required, default, options, placeholder, help, pattern, min, max, max_length, "
        "integer, show_if. Credentials already of this type must match a changed schema when next edited.",
    )
    test_spec = SchemaJSONField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 10, "cols": 80, "spellcheck": "false"}),
        help_text="How to test a custom type (HTTP).",
    )

    class Meta:
        model = CredentialType
        fields = ["slug", "name", "category", "icon", "description", "schema", "test_spec", "is_active"]

    def clean_slug(self) -> str:
        slug = self.cleaned_data["slug"]
        try:
            types.get_type(slug)
        except KeyError:
            return slug
        raise ValidationError("This slug belongs to a built-in credential type.")

    def clean_schema(self) -> Any:
        schema = self.cleaned_data.get("schema")
        try:
            # A field this type ever had as secret stays secret, even one removed and added back.
            types.parse_schema_change(self.instance.secret_history, schema)
        except types.SchemaErrors as exc:
            raise ValidationError(
                [
                    message if where == "__all__" else f"{where}: {message}"
                    for where, problems in exc.errors.items()
                    for message in problems
                ]
            ) from None
        return schema

    def clean_test_spec(self) -> Any:
        spec = self.cleaned_data.get("test_spec") or {}
        try:
            fields = types.parse_schema(self.cleaned_data.get("schema"))
        except types.SchemaErrors:
            return spec  # the schema's own errors are shown on it
        fields = types.with_secret_history(fields, self.instance.secret_history)
        problems = validate_test_spec(spec, fields)
        if problems:
            raise ValidationError(problems)
        return spec


@admin.action(description="Delete selected credential types", permissions=["delete"])
def delete_selected(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet) -> Any:
    # Named like Django's action so it replaces it; the built-in types belong to the code.
    if queryset.filter(is_system=True).exists():
        modeladmin.message_user(request, "Built-in credential types cannot be deleted.", messages.ERROR)
        return None
    return django_delete_selected(modeladmin, request, queryset)


@admin.register(CredentialType)
class CredentialTypeAdmin(admin.ModelAdmin):
    form = CredentialTypeForm
    list_display = ("name", "slug", "category", "is_system", "is_active")
    list_filter = ("category", "is_system", "is_active")
    search_fields = ("name", "slug", "description")
    actions = [delete_selected]

    def get_readonly_fields(self, request: HttpRequest, obj: CredentialType | None = None) -> tuple[str, ...]:
        # Credentials' ciphertext is bound to their type's slug: it cannot change under them.
        return ("slug", "is_system") if obj is not None else ("is_system",)

    def has_change_permission(self, request: HttpRequest, obj: CredentialType | None = None) -> bool:
        return not (obj is not None and obj.is_system) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: CredentialType | None = None) -> bool:
        return not (obj is not None and obj.is_system) and super().has_delete_permission(request, obj)
