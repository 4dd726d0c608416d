"""Who hears of what: each event raised once, fanned out only to those who may see it, by their own choice."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command
from django.utils import timezone

from credentials.access.services import access_request_create, access_request_deny, credential_set_requestable
from credentials.access.sweep import access_sweep
from credentials.services import credential_update
from credentials.sharing import credential_share, credential_unshare
from credentials.teams import team_set_manager
from credentials.versions.services import credential_rollback
from notifications.fanout import fan_out
from notifications.models import Channel, Delivery, RaisedEvent
from notifications.services import subscription_set
from notifications.webhooks.endpoints import endpoint_create
from tests.credentials.test_testing import postgres_fields, run_queued, unreachable
from tests.factories import CLOCK_START, make_credential, make_user

pytestmark = pytest.mark.django_db
URL = "http://127.0.0.1:9/hook"


def fanned(signal: str | None = None) -> list[Delivery]:
    """Fan out what was raised (as the worker does) and return the deliveries made."""
    waiting = RaisedEvent.objects.filter(fanned_out_at__isnull=True).order_by("pk")
    if signal:
        waiting = waiting.filter(signal=signal)
    for raised_id in waiting.values_list("pk", flat=True):
        fan_out(raised_id)
    return list(Delivery.objects.order_by("created_at", "pk"))


def to(deliveries: list[Delivery], event: str) -> set[tuple[str, str]]:
    """(username or endpoint name, channel) of each delivery of ``event``."""
    return {(d.user.username if d.user else d.endpoint.name, d.channel) for d in deliveries if d.event == event}


@pytest.fixture
def people(owner):
    owner.email = "owner@example.com"
    owner.save(update_fields=["email"])
    return owner


def test_by_default_owners_hear_of_failures_not_of_changes(people, eager_tasks, django_capture_on_commit_callbacks,
                                                           settings):  # fmt: skip
    settings.CREDENTIAL_TEST_FLAG_AFTER = 2
    credential = unreachable(people)
    for _ in range(3):  # the second failure reaches the flag: one event, not one per failure
        run_queued(django_capture_on_commit_callbacks, actor=people, credential_id=credential.pk)
    credential_update(actor=people, credential_id=credential.pk, changes={"fields": postgres_fields(5432)})
    assert run_queued(django_capture_on_commit_callbacks, actor=people, credential_id=credential.pk).test_status == (
        "passed"
    )
    deliveries = fanned()
    assert to(deliveries, "credential.test_failing") == {("owner", Channel.EMAIL)}
    assert to(deliveries, "credential.test_recovered") == {("owner", Channel.EMAIL)}
    assert to(deliveries, "credential.secret_changed") == set()  # raised, but nobody asked for it
    assert [d.payload["data"]["failures"] for d in deliveries if d.event == "credential.test_failing"] == [2]
    assert RaisedEvent.objects.filter(signal="test_failing").count() == 1


def test_a_watcher_hears_only_of_credentials_they_may_see(people, clock):
    watcher = make_user("watcher", email="watcher@example.com")
    subscription_set(actor=watcher, event="credential.secret_changed", scope="visible", email="digest", webhook=True)
    endpoint_create(actor=watcher, name="watcher-hook", url=URL)
    credential = make_credential(people)
    credential_update(actor=people, credential_id=credential.pk, changes={"fields": {"token": "second-secret-1"}})
    assert to(fanned(), "credential.secret_changed") == set()  # not shared with them
    credential_share(actor=people, credential_id=credential.pk, user=watcher, permissions=["view"],
                     expires_at=CLOCK_START + timedelta(hours=1))  # fmt: skip
    credential_update(actor=people, credential_id=credential.pk, changes={"fields": {"token": "third-secret-12"}})
    assert to(fanned(), "credential.secret_changed") == {("watcher", Channel.DIGEST), ("watcher-hook", "webhook")}
    Delivery.objects.all().delete()
    clock.move_to(CLOCK_START + timedelta(hours=2))  # the share has ended, swept or not
    credential_update(actor=people, credential_id=credential.pk, changes={"fields": {"token": "fourth-secret-1"}})
    assert to(fanned(), "credential.secret_changed") == set()


def test_team_and_global_endpoints(people, superuser):
    team = Group.objects.create(name="platform")
    manager = make_user("lead")
    team_set_manager(actor=superuser, team=team, user=manager, is_manager=True)
    team.user_set.add(people)
    endpoint_create(actor=manager, name="team-hook", url=URL, team=team, events=["credential.rolled_back"])
    endpoint_create(actor=superuser, name="global-hook", url=URL, is_global=True)
    ours = make_credential(people, team=team)
    mine = make_credential(people)
    for credential in (ours, mine):
        credential_update(actor=people, credential_id=credential.pk, changes={"fields": {"token": "another-value-1"}})
        credential_rollback(actor=people, credential_id=credential.pk, number=1)
    deliveries = fanned()
    rolled = {(d.credential_id, d.endpoint.name) for d in deliveries if d.event == "credential.rolled_back"}
    assert rolled == {(ours.pk, "team-hook"), (ours.pk, "global-hook"), (mine.pk, "global-hook")}
    changed = {d.endpoint.name for d in deliveries if d.event == "credential.secret_changed" and d.endpoint}
    assert changed == {"global-hook"}  # the team's endpoint takes rollbacks only


def test_access_decisions_reach_the_requester_and_requests_the_approvers(people, member, contractors):
    member.email = "member@example.com"
    member.save(update_fields=["email"])
    credential = make_credential(people)
    credential_set_requestable(actor=people, credential_id=credential.pk, group=contractors)
    request = access_request_create(actor=member, credential_id=credential.pk, permission="use", hours=2,
                                    reason="deploy")  # fmt: skip
    access_request_deny(actor=people, request_id=request.pk, reason="not today")
    deliveries = fanned()
    assert to(deliveries, "access.requested") == {("owner", Channel.EMAIL)}
    # The requester may not see it, but may request it: told of their own request, and nothing more.
    assert to(deliveries, "access.denied") == {("member", Channel.EMAIL)}
    [denied] = [d for d in deliveries if d.event == "access.denied"]
    assert set(denied.payload["data"]["credential"]) == {"id", "name", "type", "environment", "owner", "expires_at"}


def test_a_grant_about_to_end_reaches_the_group_members(people, contractors, member, clock):
    credential = make_credential(people)
    member.email = "member@example.com"
    member.save(update_fields=["email"])
    credential_share(actor=people, credential_id=credential.pk, group=contractors, permissions=["use"],
                     expires_at=CLOCK_START + timedelta(hours=3))  # fmt: skip
    assert access_sweep().grants_ending == 1
    assert to(fanned("grant_ending"), "access.grant_ending") == {("member", Channel.EMAIL)}


def test_shared_and_unshared_are_opt_in_and_the_grantee_hears_of_a_share(people):
    friend = make_user("friend", email="friend@example.com")
    subscription_set(actor=friend, event="credential.shared", scope="mine", email="immediate", webhook=False)
    credential = make_credential(people)
    credential_share(actor=people, credential_id=credential.pk, user=friend, permissions=["use"])
    assert to(fanned(), "credential.shared") == {("friend", Channel.EMAIL)}
    credential_unshare(actor=people, credential_id=credential.pk, user=friend)
    # Seen when fanned out: who may no longer see the credential hears nothing more of it.
    subscription_set(actor=friend, event="credential.unshared", scope="mine", email="immediate", webhook=False)
    assert to(fanned(), "credential.unshared") == set()


def test_a_failed_audit_verification_reaches_the_administrators(superuser, people, tamper_with_audit):
    superuser.email = "root@example.com"
    superuser.save(update_fields=["email"])
    make_credential(people)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE audit_auditevent SET service = 'forged' WHERE id = (SELECT MIN(id) FROM audit_auditevent)"
        )
    with pytest.raises(CommandError):
        call_command("verify_audit_chain", stdout=StringIO())
    deliveries = fanned()
    assert to(deliveries, "audit.verification_failed") == {("root", Channel.EMAIL)}


def test_an_event_is_fanned_out_once_and_not_at_all_for_a_rolled_back_change(people):
    from django.db import transaction

    credential = make_credential(people)
    subscription_set(actor=people, event="credential.secret_changed", scope="mine", email="immediate", webhook=False)
    with pytest.raises(RuntimeError), transaction.atomic():
        credential_update(actor=people, credential_id=credential.pk, changes={"fields": {"token": "rolled-back-1"}})
        raise RuntimeError("the caller's transaction fails after the change")
    assert not RaisedEvent.objects.filter(signal="secret_changed").exists()
    credential_update(actor=people, credential_id=credential.pk, changes={"fields": {"token": "kept-value-12"}})
    raised = RaisedEvent.objects.get(signal="secret_changed")
    assert fan_out(raised.pk) == 1 and fan_out(raised.pk) == 0  # a message delivered twice
    assert raised.facts == {**raised.facts, "version": 2, "changed_fields": ["token"]}
    assert timezone.now() >= RaisedEvent.objects.get(pk=raised.pk).fanned_out_at
