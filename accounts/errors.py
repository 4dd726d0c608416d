"""What the accounts services refuse: a token request they cannot grant, a token that is not the caller's."""

from __future__ import annotations


class InvalidTokenRequest(Exception):
    """Input a token cannot be made from; ``errors`` by field (``__all__`` for the whole form)."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("; ".join(message for messages in errors.values() for message in messages))
        self.errors = errors


class TokenNotFound(Exception):
    """No live token of the caller's with that key: someone else's and none at all answer alike."""
