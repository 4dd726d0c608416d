"""Who may do what to a credential: the one place that answers it, for selectors and services."""

from __future__ import annotations

from typing import Any

USE = "use"
VIEW = "view"
CHANGE = "change"
DELETE = "delete"
ACTIONS = (USE, VIEW, CHANGE, DELETE)


def _is_admin_for(user: Any, action: str) -> bool:
    # Staff act on every credential through the model permission; superusers hold them all.
    return user.is_superuser or (user.is_staff and user.has_perm(f"credentials.{action}_credential"))


def sees_all_credentials(user: Any) -> bool:
    return bool(user and user.is_authenticated and user.is_active) and any(
        _is_admin_for(user, action) for action in ACTIONS
    )


def user_can(user: Any, action: str, credential: Any) -> bool:
    if action not in ACTIONS:
        raise ValueError(f"unknown credential action {action!r}")
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    if credential.owner_id == user.pk:
        return True
    return _is_admin_for(user, action)


def user_can_see(user: Any, credential: Any) -> bool:
    return any(user_can(user, action, credential) for action in ACTIONS)


def actions_for(user: Any, credential: Any) -> list[str]:
    return [action for action in ACTIONS if user_can(user, action, credential)]
