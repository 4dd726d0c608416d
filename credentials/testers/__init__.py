"""Credential tests: a tester per built-in type on one base, custom types' HTTP test, the runs and the report."""

from __future__ import annotations

import functools
from typing import Any

from credentials.testers.base import Tester, TestFailed, TestOutcome

__all__ = ["TestFailed", "TestOutcome", "Tester", "forget_testers", "tester_for"]


@functools.cache
def _builtin() -> dict[str, Tester]:
    # Imported on first use, not at start-up: they pull in psycopg2, redis and paramiko.
    from credentials.testers.database import PostgresTester, RedisTester
    from credentials.testers.ssh import SSHKeyTester
    from credentials.testers.web import (
        BasicTester,
        BearerTester,
        GitHubTokenTester,
        GitLabOAuthTester,
        GitLabTokenTester,
        HeaderTester,
    )

    classes = (
        PostgresTester,
        RedisTester,
        SSHKeyTester,
        GitHubTokenTester,
        GitLabTokenTester,
        GitLabOAuthTester,
        BearerTester,
        BasicTester,
        HeaderTester,
    )
    return {cls.slug: cls() for cls in classes}


def tester_for(type_row: Any) -> Tester | None:
    """The tester for a stored credential type: a built-in one, or its test spec's; None if it has none."""
    if type_row.is_system:
        return _builtin().get(type_row.slug)
    if type_row.test_spec:
        from credentials.testers.custom import CustomHTTPTester

        return CustomHTTPTester(type_row.test_spec, type_row.spec.fields)
    return None


def forget_testers() -> None:
    """Drop the built-in testers made so far; the next ``tester_for`` makes them again (config/caches.py)."""
    _builtin.cache_clear()
