"""What the credential services raise; each face maps these to its own answer (404, 403, 409, 400)."""

from __future__ import annotations

from collections.abc import Mapping

from django.core.exceptions import PermissionDenied

from config.errors import QueueUnavailable


class RevealRefused(Exception):
    """The family of every refusal or failure of the one door (credentials/door.py) and of the secret it
    hands over: its callers catch this one class. ``str(exc)`` never holds a secret.

    A field name the credential's type does not have is a caller's bug, not a refusal: ValueError.
    """


class CredentialNotFound(RevealRefused):
    """No such credential, or the caller may not see it: the same answer for both."""

    def __init__(self, message: str = "Credential not found."):
        super().__init__(message)


class CredentialPermissionDenied(PermissionDenied, RevealRefused):
    """The caller may see the credential but not do this to it."""


class CredentialUnavailable(RevealRefused):
    """The credential exists and may be used by the caller, but is inactive or expired."""


class CredentialUnreadable(RevealRefused):
    """The stored secret cannot be opened: its key is not configured, or it was altered or copied from
    another row. The key ring's DecryptionError (credentials/keys/ring.py) is one, with the details."""


class StaleVersion(Exception):
    """The credential changed since the caller read it: nothing was written."""

    def __init__(self, *, expected: int, current: int):
        self.expected = expected
        self.current = current
        super().__init__(
            f"The credential was changed by someone else (version {current}, you sent {expected}). "
            "Reload it and apply your change again."
        )


class VersionNotFound(Exception):
    """No such version of the credential's secret, or it was destroyed: nothing to restore (a 404)."""

    def __init__(self, number: int):
        self.number = number
        super().__init__(f"Version {number} of this credential does not exist, or was destroyed.")


class AccessRequestNotFound(Exception):
    """No such access request, or the caller is neither its requester nor one of its approvers (a 404)."""

    def __init__(self, message: str = "Access request not found."):
        super().__init__(message)


class AccessRequestClosed(Exception):
    """The request was already answered, cancelled, or waited past its time: nothing was written (a 409)."""


class InvalidCredential(Exception):
    """Bad input. ``errors`` are about the credential's attributes, ``field_errors`` about its fields."""

    def __init__(
        self,
        errors: Mapping[str, list[str]] | None = None,
        field_errors: Mapping[str, list[str]] | None = None,
    ):
        self.errors = dict(errors or {})
        self.field_errors = dict(field_errors or {})
        super().__init__(str(self.as_dict()))

    def as_dict(self) -> dict:
        data: dict = dict(self.errors)
        if self.field_errors:
            data["fields"] = dict(self.field_errors)
        return data


class DestinationRefused(RevealRefused):
    """A use would send the secret to a host its owner did not allow (ARCHITECTURE.md, invariant 9), or a
    connection would reach an address the outbound policy refuses (credentials/outbound.py)."""


class TestQueueUnavailable(QueueUnavailable):
    """A credential test could not be queued."""

    __test__ = False  # not a pytest test class, whatever its name

    def __init__(self, message: str = "The test queue is unavailable; try again in a minute."):
        super().__init__(message)


class CredentialInUse(Exception):
    """The credential cannot be deleted while something (a plugin) uses it; ``users`` says what."""

    def __init__(self, users: list[dict[str, str]]):
        self.users = users
        names = ", ".join(f"{user['kind']} “{user['name']}”" for user in users[:10])
        more = f" and {len(users) - 10} more" if len(users) > 10 else ""
        super().__init__(
            f"This credential is used by {names}{more}. Remove them or move them to another credential first."
        )
