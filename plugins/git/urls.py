"""Where a plugin's repository is: its URL (https, ssh, scp-like) and ref, checked before git ever sees them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from credentials.types.hosts import normalise_host

# --- Where: repository URLs and refs --------------------------------------------------------------


@dataclass(frozen=True)
class RepoLocation:
    url: str
    transport: str  # "https" or "ssh"
    host: str
    port: int | None
    path: str
    user: str | None  # the SSH user named in the URL, if any


_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
# git's transport helpers (ext::sh -c ..., fd::) run commands or read descriptors.
_HELPER = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*::")
# scp-like: [user@]host:path, where no slash comes before the colon (else git reads a local path).
_SCP = re.compile(r"^(?:(?P<user>[^@/:]+)@)?(?P<host>\[[^\]/]+\]|[^@/:\[\]]+):(?P<path>.*)$")
_SSH_USER = re.compile(r"^[A-Za-z0-9._][A-Za-z0-9._-]{0,63}$")
_UNSAFE_TEXT = re.compile(r"[\s\x00-\x1f\x7f]")


def parse_repo_url(url: str) -> RepoLocation:
    """An https://, ssh:// or scp-like (user@host:path) repository URL; ValueError, clearly worded, otherwise."""
    text = url.strip() if isinstance(url, str) else ""
    if not text:
        raise ValueError("Enter the repository's URL.")
    if _UNSAFE_TEXT.search(text):
        raise ValueError("A repository URL cannot contain spaces or control characters.")
    if text.startswith("-"):
        raise ValueError("A repository URL cannot start with '-'.")
    scheme = _SCHEME.match(text)
    if scheme:
        name = scheme[1].lower()
        if name in ("https", "ssh"):
            return _parse_url(text, name)
        if name == "http":
            raise ValueError("http:// would send the credential in clear: use https://.")
        raise ValueError(f"{name}:// URLs are not allowed: use https://, ssh:// or user@host:path.")
    if _HELPER.match(text):
        raise ValueError(
            "Transport helper URLs (such as ext::) are not allowed: use https://, ssh:// or user@host:path."
        )
    scp = _SCP.match(text)
    if scp is None:
        raise ValueError("This is a local path, not a repository URL: use https://, ssh:// or user@host:path.")
    return RepoLocation(
        url=text,
        transport="ssh",
        host=normalise_host(scp["host"]),
        port=None,
        path=_repo_path(scp["path"]),
        user=_ssh_user(scp["user"]),
    )


def _parse_url(text: str, transport: str) -> RepoLocation:
    parts = urlsplit(text)
    if parts.query or parts.fragment or text.endswith(("?", "#")):
        raise ValueError("A repository URL cannot have a query (?) or a fragment (#).")
    if parts.password is not None or (transport == "https" and parts.username is not None):
        # It would stay in .git/config, logs and the process list; the credential supplies it.
        raise ValueError("Do not put a secret in the URL (nothing before '@'): the credential supplies it.")
    if not parts.hostname:
        raise ValueError("The URL has no host.")
    try:
        port = parts.port
    except ValueError:
        raise ValueError("The URL's port is not a number from 1 to 65535.") from None
    if port == 0:
        raise ValueError("The URL's port is not a number from 1 to 65535.")
    return RepoLocation(
        url=text,
        transport=transport,
        host=normalise_host(parts.hostname),
        port=port,
        path=_repo_path(parts.path),
        user=_ssh_user(parts.username) if transport == "ssh" else None,
    )


def _repo_path(path: str) -> str:
    if not path.strip("/"):
        raise ValueError("The URL names no repository (its path is empty).")
    if path.startswith("-"):
        raise ValueError("A repository path cannot start with '-'.")
    return path


def _ssh_user(user: str | None) -> str | None:
    if user is None:
        return None
    if not _SSH_USER.match(user):
        raise ValueError(f"'{user[:64]}' is not an SSH user name.")
    return user


COMMIT_ID = re.compile(r"^[0-9a-fA-F]{7,40}$")
_REF_FORBIDDEN = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]")


def validate_ref(ref: str) -> str:
    """A branch or tag name (git check-ref-format rules), a commit id, or "" for the default branch."""
    ref = (ref or "").strip()
    if not ref or COMMIT_ID.match(ref):
        return ref
    problem = _ref_problem(ref)
    if problem:
        raise ValueError(f"'{ref[:100]}' is not a branch, tag or commit id: {problem}.")
    return ref


def _ref_problem(ref: str) -> str:
    if len(ref) > 255:
        return "it is longer than 255 characters"
    if ref.startswith("-"):
        return "it cannot start with '-'"
    if _REF_FORBIDDEN.search(ref):
        return "it cannot contain spaces, control characters or any of ~ ^ : ? * [ \\"
    if ".." in ref or "@{" in ref or ref == "@":
        return "it cannot contain '..' or '@{', nor be '@'"
    if ref.startswith("/") or ref.endswith(("/", ".")) or "//" in ref:
        return "it cannot start or end with '/', end with '.', or contain '//'"
    if any(part.startswith(".") or part.endswith(".lock") for part in ref.split("/")):
        return "no part of it may start with '.' or end with '.lock'"
    return ""
