"""A mixin for admin pages and inlines whose rows are read there and written only by the services."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest


class NoWrites:
    """Nobody adds, changes or deletes these rows in the admin, superusers included."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
