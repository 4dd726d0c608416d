"""Every per-process cache is listed in config/caches.py, and clearing them clears each one."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from audit.keys import get_audit_keys
from config.caches import clear_process_caches, process_caches
from credentials import testers
from credentials.keys.ring import get_keyring
from credentials.permissions import permission_ids
from credentials.type_cache import type_by_slug


def queries(read) -> int:
    with CaptureQueriesContext(connection) as captured:
        read()
    return len(captured)


@pytest.mark.django_db
def test_each_cache_is_filled_once_and_emptied_by_clearing_them_all():
    type_by_slug("github_pat"), permission_ids()
    assert queries(lambda: type_by_slug("github_pat")) == 0
    assert queries(permission_ids) == 0
    keyring, audit_keys = get_keyring(), get_audit_keys()
    tester = testers.tester_for(type_by_slug("github_pat"))

    clear_process_caches()

    assert queries(lambda: type_by_slug("github_pat")) == 1
    assert queries(permission_ids) == 1
    assert get_keyring() is not keyring and get_audit_keys() is not audit_keys
    assert testers.tester_for(type_by_slug("github_pat")) is not tester


def test_every_cache_says_what_it_holds_and_what_clears_it():
    caches = process_caches()
    assert [cache.name for cache in caches] == [
        "credential types",
        "permission ids",
        "key ring",
        "audit keys",
        "testers",
        "list row layouts",
    ]
    assert all(cache.holds and cache.cleared_when and callable(cache.clear) for cache in caches)
