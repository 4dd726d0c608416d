"""The expiry sweep: each stage once per expiry time, the nearest stage only, in a constant number of queries."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from credentials.expiry import expiry_sweep, notices_of_sweep
from credentials.models import ExpiryNotice
from credentials.services import credential_update
from notifications.models import RaisedEvent
from tests.factories import CLOCK_START, make_credential

pytestmark = pytest.mark.django_db


def stages(credential) -> list[int]:
    return list(
        ExpiryNotice.objects.filter(credential=credential)
        .order_by("noticed_at", "-days")
        .values_list("days", flat=True)
    )


def test_each_stage_once_as_the_clock_moves(owner, clock):
    credential = make_credential(owner, expires_at=CLOCK_START + timedelta(days=40))
    assert expiry_sweep() == 0
    for days_left, expected in ((29, [30]), (28, [30]), (6, [30, 7]), (0.5, [30, 7, 1]), (-0.1, [30, 7, 1, 0])):
        clock.move_to(CLOCK_START + timedelta(days=40 - days_left))
        expiry_sweep()
        assert stages(credential) == expected, days_left
    raised = RaisedEvent.objects.filter(signal="expiry_reached").order_by("pk")
    assert [r.facts["count"] for r in raised] == [1, 1, 1, 1]
    assert [notices_of_sweep(datetime.fromisoformat(r.facts["noticed_at"]))[0][:2] for r in raised] == [
        (credential.pk, days) for days in (30, 7, 1, 0)
    ]


def test_the_nearest_stage_only_and_again_for_a_new_expiry(owner, clock):
    credential = make_credential(owner, expires_at=CLOCK_START + timedelta(hours=12))
    assert expiry_sweep() == 1 and stages(credential) == [1]
    credential_update(
        actor=owner, credential_id=credential.pk, changes={"expires_at": CLOCK_START + timedelta(days=20)}
    )
    assert expiry_sweep() == 1 and sorted(stages(credential)) == [1, 30]
    assert expiry_sweep() == 0


def test_long_expired_and_inactive_credentials_are_not_announced(owner, clock):
    make_credential(owner, expires_at=CLOCK_START + timedelta(days=1))
    inactive = make_credential(owner, expires_at=CLOCK_START + timedelta(days=3))
    inactive.is_active = False
    inactive.save(update_fields=["is_active"])
    clock.move_to(CLOCK_START + timedelta(days=30))  # the first expired 29 days ago, before this sweep ran
    assert expiry_sweep() == 0


def test_a_constant_number_of_queries(owner, clock):
    for n in range(12):
        make_credential(owner, expires_at=CLOCK_START + timedelta(days=n + 1))
    with CaptureQueriesContext(connection) as few:
        expiry_sweep()
    for n in range(12):
        make_credential(owner, expires_at=CLOCK_START + timedelta(days=n + 1, hours=1))
    with CaptureQueriesContext(connection) as more:
        assert expiry_sweep() == 12
    assert len(few) == len(more)
