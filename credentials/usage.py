"""What uses a credential, as other apps report it (plugins), without the credentials app importing them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from config.actors import Caller
from credentials.models import Credential

# A source answers, for one credential and the user asking, a list of plain dicts describing what
# uses it (each may say whether that user may open it).
UsageSource = Callable[[Credential, Caller], list[dict[str, Any]]]

_sources: dict[str, UsageSource] = {}


def register_usage_source(name: str, source: UsageSource) -> None:
    """Called from an app's ready(): ``name`` becomes a key of the credential's usage (``plugins``)."""
    _sources[name] = source


def usage_of(credential: Credential, viewer: Caller) -> dict[str, list[dict[str, Any]]]:
    """Every registered source's answer for ``credential`` as ``viewer`` asks, by source name."""
    return {name: source(credential, viewer) for name, source in _sources.items()}
