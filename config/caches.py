"""Every per-process cache in Latchkey, listed in one place, and the one way to clear them all."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class ProcessCache:
    """A cache one process keeps for its lifetime: what it holds, what clears it on its own, how to clear it."""

    name: str
    holds: str
    cleared_when: str
    clear: Callable[[], None]


def process_caches() -> tuple[ProcessCache, ...]:
    """The caches, each cleared by its own module's function; imported here, not at start-up (they import models).

    Two more caches are not here, because they are not the process's: ``permissions.actions_for``
    keeps a credential's share flags on the instance it was given, for that user, and it goes
    when the instance does; ``config.prepared`` keeps the names of the statements it prepared on
    a database connection with that connection, and they go when it closes.
    """
    from audit.keys import get_audit_keys
    from credentials.keys.ring import get_keyring
    from credentials.page_rows import forget_layouts
    from credentials.permissions import forget_permission_ids
    from credentials.testers import forget_testers
    from credentials.type_cache import clear_type_cache

    return (
        ProcessCache(
            "credential types",
            "CredentialType rows by id and by slug",
            "a type is saved or deleted in this process (post_save, post_delete)",
            clear_type_cache,
        ),
        ProcessCache(
            "permission ids",
            "the ids of the share permissions and of auth.manage_team",
            "any app's migrate, and a test database's flush (post_migrate)",
            forget_permission_ids,
        ),
        ProcessCache("key ring", "the keys of FERNET_KEYS", "FERNET_KEYS or DEBUG change", get_keyring.cache_clear),
        ProcessCache("audit keys", "the keys of AUDIT_KEYS", "AUDIT_KEYS or DEBUG change", get_audit_keys.cache_clear),
        ProcessCache("testers", "one tester per built-in type", "never: they follow the code", forget_testers),
        ProcessCache(
            "list row layouts",
            "the SQL of a list page's columns and joins, per set of columns",
            "never: they follow the models",
            forget_layouts,
        ),
    )


def clear_process_caches() -> None:
    """Clear every cache above: what a test does before and after it runs, so no test sees another's rows."""
    for cache in process_caches():
        cache.clear()
