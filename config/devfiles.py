"""Local files that hold generated secrets for the embedded development mode only."""

import os
import secrets
import sys
from collections.abc import Callable
from pathlib import Path


def read_or_create_secret(path: Path, generate: Callable[[], str], *, label: str) -> str:
    """Return the secret stored at ``path``, creating it (mode 0600, in a 0700 folder) if absent."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        # O_EXCL: two processes starting at once must not both write a different secret.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    value = generate()
    with os.fdopen(fd, "w") as handle:
        handle.write(value + "\n")
    print(
        f"WARNING: generated a development {label} in {path} (mode 0600, git-ignored). "
        "It is for DEBUG mode on this machine only; production reads it from the environment.",
        file=sys.stderr,
    )
    return value


def generate_django_secret() -> str:
    return secrets.token_urlsafe(50)


def generate_fernet_key() -> str:
    # Imported here so that settings do not pull in cryptography unless a key is needed.
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()
