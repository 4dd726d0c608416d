"""What the plugin services raise; the faces map them to 404 and 400 as they do the credentials' own."""

from __future__ import annotations

from collections.abc import Mapping


class PluginNotFound(Exception):
    """No such plugin, or the caller may not see it: the same answer for both."""

    def __init__(self, message: str = "Plugin not found."):
        super().__init__(message)


class InvalidPlugin(Exception):
    """Bad input, by field; nothing was written or cloned."""

    def __init__(self, errors: Mapping[str, list[str]]):
        self.errors = dict(errors)
        super().__init__(str(self.errors))

    def as_dict(self) -> dict[str, list[str]]:
        return dict(self.errors)


class GitError(Exception):
    """A git operation failed. ``str(exc)`` is redacted and fit to show a person; ``detail`` is git's
    own output, redacted too, for logs."""

    def __init__(self, message: str, *, detail: str = ""):
        super().__init__(message)
        self.detail = detail


class UntrustedCheckout(GitError):
    """An existing checkout's .git is not what our clone made (a symbolic link where a directory was): clone afresh."""


class GitHostKeyError(GitError):
    """The SSH server's host key is not pinned, or differs from the pinned one; nothing secret was sent."""

    def __init__(self, message: str, *, offered_fingerprint: str = "", offered_line: str = "", detail: str = ""):
        super().__init__(message, detail=detail)
        self.offered_fingerprint = offered_fingerprint
        self.offered_line = offered_line
