"""Where plugins live on disk: ``PLUGINS_ROOT/<id>/`` for checkouts, ``PLUGINS_ROOT/.work/`` for jobs."""

from __future__ import annotations

import uuid
from pathlib import Path

from django.conf import settings


def plugins_root() -> Path:
    return Path(settings.PLUGINS_ROOT)


def checkout_path(plugin_id: uuid.UUID | str) -> Path:
    # A UUID, parsed again: nothing from outside can make this path leave the root.
    return plugins_root() / str(uuid.UUID(str(plugin_id)))


def work_root() -> Path:
    """Jobs' private directories, on the same file system as the checkouts so a clone is renamed into place."""
    return plugins_root() / ".work"
