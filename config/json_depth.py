"""A ceiling on how deeply JSON from outside may nest, for the API's parser and the admin's JSON fields."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

# No document we accept nests deeper than a few levels (a schema: list, field, options, option).
# Python's own limit (about 1,000, less the stack in use) turns deeper documents into a
# RecursionError somewhere later: in the parser, a serializer, an error message, a 500.
MAX_JSON_DEPTH = 32


def too_deep(value: Any, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether parsed JSON nests lists and objects more than ``limit`` deep (``[]`` is 1); iterative."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children: Iterable[Any]
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False
