"""Secret history in the services: a version per new payload, bound to row and number; rollback, destroy, pruning."""

from __future__ import annotations

import threading

import pytest
from django.contrib.auth.models import Group
from django.db import connection, connections

from audit.models import AuditAction, AuditEvent
from credentials.errors import (
    CredentialNotFound,
    CredentialPermissionDenied,
    CredentialUnreadable,
    InvalidCredential,
    StaleVersion,
    VersionNotFound,
)
from credentials.keys.ring import MisboundError
from credentials.keys.sealing import open_values, open_version
from credentials.models import Credential, CredentialVersion, VersionOrigin
from credentials.selectors import credential_versions_for_user
from credentials.services import credential_update
from credentials.sharing import credential_share
from credentials.teams import team_set_manager
from credentials.versions.services import credential_rollback, credential_version_destroy
from tests.factories import make_credential, make_user, reveal

FIRST, SECOND, THIRD = "first-secret-0001", "second-secret-0002", "third-secret-0003"


@pytest.fixture
def credential(owner):
    return make_credential(owner, "github_pat", secret=FIRST, name="versioned")


def change_token(actor, credential, token: str, **changes) -> Credential:
    return credential_update(actor=actor, credential_id=credential.pk, changes={"fields": {"token": token}, **changes})


def numbers(credential) -> list[int]:
    return list(CredentialVersion.objects.filter(credential=credential).values_list("number", flat=True))


def token_of(actor, credential) -> str:
    return reveal(actor, credential)["token"]


# --- Versions kept ------------------------------------------------------------------------------


def test_creating_keeps_version_one_with_its_event(credential, owner):
    [version] = CredentialVersion.objects.filter(credential=credential)
    assert (version.number, version.origin, credential.secret_version) == (1, VersionOrigin.CREATED, 1)
    assert version.ciphertext == credential.ciphertext and version.key_id == credential.key_id
    assert {"allowed_hosts", "token"} <= set(version.changed_fields) and version.created_by == owner
    assert AuditEvent.objects.get(uid=version.event_id).action == AuditAction.CREATED
    assert open_version(credential, version)["fields"]["token"] == FIRST


def test_each_new_secret_is_a_new_version_and_clear_changes_are_not(credential, owner):
    credential_update(actor=owner, credential_id=credential.pk, changes={"description": "no secret here"})
    assert numbers(credential) == [1]
    changed = change_token(owner, credential, SECOND)
    assert (changed.secret_version, numbers(credential)) == (2, [2, 1])
    newest = CredentialVersion.objects.get(credential=credential, number=2)
    assert (newest.origin, newest.changed_fields) == (VersionOrigin.CHANGED, ["token"])
    event = AuditEvent.objects.get(uid=newest.event_id)
    assert event.action == AuditAction.UPDATED and event.details["secret_version"] == 2
    assert token_of(owner, credential) == SECOND


def test_the_same_secret_sent_again_makes_no_version(credential, owner):
    change_token(owner, credential, FIRST)
    assert numbers(credential) == [1]


def test_history_lists_facts_and_never_a_value(credential, owner):
    change_token(owner, credential, SECOND)
    history = credential_versions_for_user(owner, credential=Credential.objects.get(pk=credential.pk))
    assert [(v.number, v.is_current, v.created_by) for v in history] == [(2, True, "owner"), (1, False, "owner")]
    assert FIRST not in repr(history) and SECOND not in repr(history)


def test_history_needs_view(credential, owner):
    user = make_user("only-use")
    credential_share(actor=owner, credential_id=credential.pk, user=user, permissions=["use"])
    with pytest.raises(CredentialPermissionDenied):
        credential_versions_for_user(user, credential=credential)


# --- Bound to row and number -----------------------------------------------------------------------


def test_a_version_copied_to_another_number_or_row_does_not_open(credential, owner):
    change_token(owner, credential, SECOND)
    one, two = (CredentialVersion.objects.get(credential=credential, number=n) for n in (1, 2))
    two.ciphertext = one.ciphertext
    with pytest.raises(MisboundError):
        open_version(credential, two)
    other = make_credential(owner, "github_pat", secret=THIRD)
    foreign = CredentialVersion.objects.get(credential=other, number=1)
    foreign.ciphertext = one.ciphertext
    with pytest.raises(MisboundError):
        open_version(other, foreign)


def test_an_old_version_copied_into_the_row_is_refused_by_the_door(credential, owner):
    change_token(owner, credential, SECOND)
    old = CredentialVersion.objects.get(credential=credential, number=1)
    Credential.objects.filter(pk=credential.pk).update(ciphertext=old.ciphertext, key_id=old.key_id)
    with pytest.raises(CredentialUnreadable):
        reveal(owner, credential)


# --- Rollback -------------------------------------------------------------------------------------


def test_rollback_seals_the_old_payload_as_the_newest_version(credential, owner):
    change_token(owner, credential, SECOND)
    current = Credential.objects.get(pk=credential.pk)
    done = credential_rollback(
        actor=owner, credential_id=credential.pk, number=1, expected_version=current.version, ip="10.0.0.9"
    )
    assert (done.version.number, done.version.origin, done.version.restored_from) == (3, "rolled_back", 1)
    assert done.hosts_restored is False and numbers(credential) == [3, 2, 1]
    assert token_of(owner, credential) == FIRST
    stored = Credential.objects.get(pk=credential.pk)
    assert (stored.secret_version, stored.version) == (3, current.version + 1)
    assert open_values(stored)["fields"]["token"] == FIRST
    event = AuditEvent.objects.get(uid=done.version.event_id)
    assert event.action == AuditAction.ROLLED_BACK and event.ip == "10.0.0.9"
    assert {k: event.details[k] for k in ("from", "to", "secret_version")} == {"from": 2, "to": 1, "secret_version": 3}
    assert FIRST not in event.body and SECOND not in event.body


def test_rollback_brings_back_the_hosts_the_secret_was_entered_with(owner):
    bearer = make_credential(owner, "http_bearer", secret=FIRST)
    assert bearer.allowed_hosts == ["api.example.com"]
    credential_update(
        actor=owner,
        credential_id=bearer.pk,
        changes={"fields": {"base_url": "https://api2.example.com", "token": SECOND}},
    )
    done = credential_rollback(actor=owner, credential_id=bearer.pk, number=1)
    assert done.hosts_restored is True
    restored = Credential.objects.get(pk=bearer.pk)
    assert restored.allowed_hosts == ["api.example.com"]
    assert restored.public_fields["base_url"] == "https://api.example.com"
    assert set(done.version.changed_fields) == {"allowed_hosts", "base_url", "token"}


def _nothing_written(credential, before_events: int, before_versions: list[int]) -> None:
    assert AuditEvent.objects.count() == before_events and numbers(credential) == before_versions


@pytest.mark.parametrize("number", [0, 7, -1])
def test_rollback_to_a_version_that_does_not_exist_is_not_found(credential, owner, number):
    events = AuditEvent.objects.count()
    with pytest.raises(VersionNotFound):
        credential_rollback(actor=owner, credential_id=credential.pk, number=number)
    _nothing_written(credential, events, [1])


def test_rollback_to_another_credentials_version_is_not_found(credential, owner):
    other = make_credential(owner, "github_pat", secret=THIRD)
    change_token(owner, other, SECOND)  # other has a version 2; this one does not
    with pytest.raises(VersionNotFound):
        credential_rollback(actor=owner, credential_id=credential.pk, number=2)


def test_rollback_to_the_current_version_or_with_a_stale_version_writes_nothing(credential, owner):
    change_token(owner, credential, SECOND)
    events = AuditEvent.objects.count()
    with pytest.raises(InvalidCredential) as refused:
        credential_rollback(actor=owner, credential_id=credential.pk, number=2)
    assert "already the current one" in refused.value.errors["version"][0]
    with pytest.raises(StaleVersion):
        credential_rollback(actor=owner, credential_id=credential.pk, number=1, expected_version=1)
    _nothing_written(credential, events, [2, 1])


@pytest.mark.parametrize(
    ("permissions", "refusal"), [(["use"], CredentialPermissionDenied), (["view"], CredentialPermissionDenied)]
)
def test_rollback_needs_change(credential, owner, permissions, refusal):
    change_token(owner, credential, SECOND)
    user = make_user("limited")
    credential_share(actor=owner, credential_id=credential.pk, user=user, permissions=permissions)
    with pytest.raises(refusal):
        credential_rollback(actor=user, credential_id=credential.pk, number=1)
    with pytest.raises(CredentialNotFound):
        credential_rollback(actor=make_user("stranger-2"), credential_id=credential.pk, number=1)
    changer = make_user("changer")
    credential_share(actor=owner, credential_id=credential.pk, user=changer, permissions=["change"])
    assert credential_rollback(actor=changer, credential_id=credential.pk, number=1).version.number == 3


# --- Destroy --------------------------------------------------------------------------------------


def test_destroying_wipes_the_ciphertext_and_the_version_cannot_be_restored(credential, owner):
    change_token(owner, credential, SECOND)
    destroyed = credential_version_destroy(actor=owner, credential_id=credential.pk, number=1)
    row = CredentialVersion.objects.get(credential=credential, number=1)
    assert (row.ciphertext, row.key_id, row.destroyed_by) == ("", "", owner) and row.destroyed_at is not None
    assert destroyed.is_destroyed
    event = AuditEvent.objects.filter(action=AuditAction.VERSION_DESTROYED).get()
    assert event.details["destroyed"] == 1
    with pytest.raises(VersionNotFound):
        credential_rollback(actor=owner, credential_id=credential.pk, number=1)
    with pytest.raises(VersionNotFound):
        credential_version_destroy(actor=owner, credential_id=credential.pk, number=1)
    assert token_of(owner, credential) == SECOND


def test_the_current_version_cannot_be_destroyed(credential, owner):
    with pytest.raises(InvalidCredential):
        credential_version_destroy(actor=owner, credential_id=credential.pk, number=1)
    assert CredentialVersion.objects.get(credential=credential).ciphertext == credential.ciphertext


def test_only_the_owner_or_an_admin_destroys(owner, superuser):
    team = Group.objects.create(name="platform")
    owner.groups.add(team)
    credential = make_credential(owner, "github_pat", secret=FIRST, team=team)
    change_token(owner, credential, SECOND)
    manager = make_user("lead")
    team_set_manager(actor=superuser, team=team, user=manager, is_manager=True)
    with pytest.raises(CredentialPermissionDenied):  # a manager changes and shares, but never deletes
        credential_version_destroy(actor=manager, credential_id=credential.pk, number=1)
    assert credential_version_destroy(actor=superuser, credential_id=credential.pk, number=1).is_destroyed


# --- Pruning ----------------------------------------------------------------------------------------


def test_the_oldest_versions_beyond_the_setting_are_pruned(credential, owner, settings):
    settings.CREDENTIAL_MAX_VERSIONS = 3
    for n in range(5):
        change_token(owner, credential, f"rotated-secret-{n:04}")
    assert numbers(credential) == [6, 5, 4]
    assert AuditEvent.objects.filter(action=AuditAction.UPDATED).order_by("id").last().details["versions_pruned"] == 1


def test_a_credential_may_keep_fewer_and_lowering_it_prunes_at_once(credential, owner, settings):
    settings.CREDENTIAL_MAX_VERSIONS = 5
    for n in range(3):
        change_token(owner, credential, f"rotated-secret-{n:04}")
    assert numbers(credential) == [4, 3, 2, 1]
    credential_update(actor=owner, credential_id=credential.pk, changes={"keep_versions": 2})
    assert numbers(credential) == [4, 3]
    with pytest.raises(InvalidCredential) as refused:
        credential_update(actor=owner, credential_id=credential.pk, changes={"keep_versions": 6})
    assert list(refused.value.errors) == ["keep_versions"]
    for bad in (0, True, "2"):
        with pytest.raises(InvalidCredential):
            credential_update(actor=owner, credential_id=credential.pk, changes={"keep_versions": bad})
    assert numbers(credential) == [4, 3]


def test_only_the_owner_or_an_admin_may_keep_fewer(credential, owner, superuser):
    changer = make_user("changer")
    credential_share(actor=owner, credential_id=credential.pk, user=changer, permissions=["change"])
    with pytest.raises(CredentialPermissionDenied):  # it would delete history, which destroying needs
        credential_update(actor=changer, credential_id=credential.pk, changes={"keep_versions": 1})
    credential_update(actor=superuser, credential_id=credential.pk, changes={"keep_versions": 1})
    assert Credential.objects.get(pk=credential.pk).keep_versions == 1


def test_a_rollback_past_the_kept_count_keeps_the_restored_payload_as_the_newest(credential, owner, settings):
    settings.CREDENTIAL_MAX_VERSIONS = 2
    change_token(owner, credential, SECOND)
    credential_rollback(actor=owner, credential_id=credential.pk, number=1)
    assert numbers(credential) == [3, 2]  # version 1 pruned; its payload lives on as version 3
    assert token_of(owner, credential) == FIRST


# --- Under concurrency (PostgreSQL) ----------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_rollbacks_and_updates_at_once_keep_one_unbroken_history(postgres_only, settings):
    settings.CREDENTIAL_MAX_VERSIONS = 100  # nothing pruned: versions 1 and 2 stay to roll back to
    owner = make_user("racer")
    credential = make_credential(owner, "github_pat", secret=FIRST, name="raced")
    change_token(owner, credential, SECOND)
    outcomes: list[str] = []
    start = threading.Barrier(6)

    def work(index: int) -> None:
        try:
            start.wait()
            for round_ in range(4):
                if index % 2:
                    credential_rollback(actor=owner, credential_id=credential.pk, number=1 + round_ % 2)
                else:
                    change_token(owner, credential, f"racing-secret-{index}-{round_}")
                outcomes.append("done")
        except (InvalidCredential, VersionNotFound) as exc:  # rolled back to what was current by then
            outcomes.append(type(exc).__name__)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(index,)) for index in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stored = Credential.objects.get(pk=credential.pk)
    kept = list(CredentialVersion.objects.filter(credential=credential).order_by("number"))
    assert [v.number for v in kept] == list(range(1, stored.secret_version + 1))  # unique, no gaps
    newest = kept[-1]
    assert open_version(stored, newest) == open_values(stored)  # the row holds the newest version
    for version in kept:
        open_version(stored, version)  # each still opens as its own number
    made = AuditEvent.objects.filter(
        credential_ref=str(credential.pk), action__in=[AuditAction.UPDATED, AuditAction.ROLLED_BACK]
    )
    assert made.count() == stored.secret_version - 1  # one event per new version
    assert outcomes.count("done") >= 1 and connection.vendor == "postgresql"
