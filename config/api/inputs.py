"""Strict input for every app's API: text that is text, booleans that are booleans, no unknown keys."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework import serializers
from rest_framework.fields import empty


class StrictCharField(serializers.CharField):
    """Text only: DRF's CharField would quietly turn 12 or true into "12" or "True"."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    """JSON true or false only, not "yes" or 1."""

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid", input=str(data)[:20])
        return data


class StrictSlugRelatedField(serializers.SlugRelatedField):
    """A row named by its slug (a username, a group's name), the name held to StrictCharField's rules first.

    DRF's own field would read "" as null (no row, where null is allowed), look 12 up as "12", and
    send a NUL byte or a megabyte of text to the database; here each is a field error before any query.
    """

    def __init__(self, *, max_length: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.name_field = StrictCharField(max_length=max_length)

    def run_validation(self, data: Any = empty) -> Any:
        if data is not empty and data is not None:
            data = self.name_field.run_validation(data)
        return super().run_validation(data)


class StrictInput(serializers.Serializer):
    """Refuses keys it does not know, so a misspelt attribute is an error rather than ignored."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({str(key)[:64]: ["Unknown field."] for key in unknown})
        return super().to_internal_value(data)
