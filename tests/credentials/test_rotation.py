"""Key rotation in one process: 0, 1 and many rows and versions; unknown keys and altered ones left alone; the event."""

from io import StringIO

import pytest
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command

from audit.models import AuditEvent
from credentials.keys.ring import KeyRing, MisboundError, key_id_for
from credentials.keys.rotation import credential_keys_rotate
from credentials.models import Credential, CredentialVersion
from credentials.services import credential_reveal, credential_update
from credentials.versions.services import credential_version_destroy
from tests.factories import make_credential


def rotate(*args) -> str:
    out = StringIO()
    call_command("rotate_encryption_keys", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


@pytest.fixture
def old_key():
    return django_settings.FERNET_KEYS[0]


@pytest.fixture
def new_key(settings, fresh_key, old_key):
    """A new primary key in front of the one the rows were written under, as an operator deploys it."""
    settings.FERNET_KEYS = [fresh_key, old_key]
    return fresh_key


def rotated_events():
    return list(AuditEvent.objects.filter(action="rotated").order_by("id"))


def opens_with(key: str, credential: Credential) -> dict:
    row = Credential.objects.select_related("type").get(pk=credential.pk)
    return KeyRing([key]).open(
        credential_id=row.pk,
        type_slug=row.type.slug,
        number=row.secret_version,
        ciphertext=row.ciphertext,
        key_id=row.key_id,
    )


def opens_version_with(key: str, version: CredentialVersion, *, number: int | None = None) -> dict:
    """A kept version opened with ``key`` alone, as the version ``number`` (its own unless told)."""
    row = CredentialVersion.objects.select_related("credential__type").get(pk=version.pk)
    return KeyRing([key]).open(
        credential_id=row.credential_id,
        type_slug=row.credential.type.slug,
        number=row.number if number is None else number,
        ciphertext=row.ciphertext,
        key_id=row.key_id,
    )


def with_three_versions(owner, name: str) -> Credential:
    """A credential whose token was "<name>-1", then "-2", then "-3": versions 1 to 3, the row holding 3."""
    credential = make_credential(owner, secret=f"{name}-1", name=name)
    for n in (2, 3):
        credential_update(actor=owner, credential_id=credential.pk, changes={"fields": {"token": f"{name}-{n}"}})
    return credential


def test_no_rows_terminates_and_is_audited_once(db, new_key):
    output = rotate()
    assert "0 rows and 0 versions to re-encrypt" in output
    assert "Every credential and kept version is under the primary key" in output
    (event,) = rotated_events()
    assert event.details["rotated"] == 0
    assert event.details["to_key"] == key_id_for(new_key.encode())


def test_one_row_moves_to_the_new_key_and_still_reveals(owner, old_key, settings, fresh_key):
    credential = make_credential(owner, "postgres", secret="one-row-secret", name="only")
    before = Credential.objects.get(pk=credential.pk)
    settings.FERNET_KEYS = [fresh_key, old_key]
    assert "1 rows and 1 versions to re-encrypt" in rotate()

    after = Credential.objects.get(pk=credential.pk)
    assert after.key_id == key_id_for(fresh_key.encode())
    assert after.ciphertext != before.ciphertext
    # Nothing a client relies on changed: same version, same update time, same clear fields.
    unchanged = ("version", "updated_at", "public_fields", "name")
    assert [getattr(after, a) for a in unchanged] == [getattr(before, a) for a in unchanged]
    assert opens_with(fresh_key, credential)["fields"]["password"] == "one-row-secret"
    settings.FERNET_KEYS = [fresh_key]  # the old key is gone: the door still opens it
    secret = credential_reveal(actor=owner, credential_id=credential.pk, service="test")
    assert secret["password"] == "one-row-secret"


def test_many_rows_over_several_batches_all_move_once(owner, old_key, settings, fresh_key):
    credentials = [make_credential(owner, secret=f"secret-{i}", name=f"c{i}") for i in range(11)]
    settings.FERNET_KEYS = [fresh_key, old_key]
    output = rotate("--batch-size", "3")
    assert "11 rows and 11 versions to re-encrypt" in output
    assert "Re-encrypted 11 rows and 11 versions in 1 pass(es)" in output
    for i, credential in enumerate(credentials):
        assert opens_with(fresh_key, credential)["fields"]["token"] == f"secret-{i}"
    (event,) = rotated_events()
    assert event.details["rotated"] == 11
    assert event.details["rotated_by_key"] == {key_id_for(old_key.encode()): 11}
    assert event.details["versions"]["rotated_by_key"] == {key_id_for(old_key.encode()): 11}
    assert event.actor_repr == "system" and event.service == "manage.py rotate_encryption_keys"
    assert "secret-" not in str(event.details)

    # Idempotent: a second run finds nothing to do and changes nothing.
    tokens = dict(Credential.objects.values_list("pk", "ciphertext"))
    version_tokens = dict(CredentialVersion.objects.values_list("pk", "ciphertext"))
    assert "0 rows and 0 versions to re-encrypt" in rotate("--batch-size", "3")
    assert dict(Credential.objects.values_list("pk", "ciphertext")) == tokens
    assert dict(CredentialVersion.objects.values_list("pk", "ciphertext")) == version_tokens
    assert len(rotated_events()) == 2


def test_every_kept_version_moves_and_opens_only_as_itself(owner, old_key, settings, fresh_key):
    credentials = [with_three_versions(owner, f"versioned{i}") for i in range(4)]
    credential_version_destroy(actor=owner, credential_id=credentials[0].pk, number=1)
    settings.FERNET_KEYS = [fresh_key, old_key]
    output = rotate("--batch-size", "5")
    # The destroyed version holds no token: nothing to re-encrypt, and it stays empty.
    assert "4 rows and 11 versions to re-encrypt" in output
    assert "Re-encrypted 4 rows and 11 versions in 1 pass(es)" in output
    destroyed = CredentialVersion.objects.get(credential=credentials[0], number=1)
    assert (destroyed.ciphertext, destroyed.key_id) == ("", "")

    kept = CredentialVersion.objects.exclude(key_id="").select_related("credential")
    assert {v.key_id for v in kept} == {key_id_for(fresh_key.encode())}
    for version in kept:
        expected = f"{version.credential.name}-{version.number}"
        assert opens_version_with(fresh_key, version)["fields"]["token"] == expected
        with pytest.raises(MisboundError):  # still bound to its number
            opens_version_with(fresh_key, version, number=version.number % 3 + 1)
    for credential in credentials:
        assert opens_with(fresh_key, credential)["fields"]["token"] == f"{credential.name}-3"
    # A version's token copied to another credential's version of the same number does not open there.
    first, second = (CredentialVersion.objects.get(credential=c, number=2) for c in credentials[1:3])
    CredentialVersion.objects.filter(pk=second.pk).update(ciphertext=first.ciphertext)
    with pytest.raises(MisboundError):
        opens_version_with(fresh_key, second)

    (event,) = rotated_events()
    assert event.details["versions"] == {
        "rotated": 11,
        "rotated_by_key": {key_id_for(old_key.encode()): 11},
        "unknown_key_versions": {},
        "unreadable": [],
        "busy": 0,
    }
    assert "versioned" not in str(event.details)


def test_a_version_that_does_not_open_is_named_and_left_while_the_others_move(owner, old_key, settings, fresh_key):
    credential = with_three_versions(owner, "altered")
    first = CredentialVersion.objects.get(credential=credential, number=1)
    # Version 1's token put in version 2's place: the same credential, another number.
    CredentialVersion.objects.filter(credential=credential, number=2).update(ciphertext=first.ciphertext)
    settings.FERNET_KEYS = [fresh_key, old_key]
    err = StringIO()
    with pytest.raises(CommandError, match=r"0 credential\(s\) and 1 version\(s\)"):
        call_command("rotate_encryption_keys", "--passes", "2", stdout=StringIO(), stderr=err)
    assert f"unreadable: altered ({credential.pk}) version 2: " in err.getvalue()
    assert "version 1" in err.getvalue()  # the reason: it was sealed as version 1
    left = CredentialVersion.objects.get(credential=credential, number=2)
    assert (left.ciphertext, left.key_id) == (first.ciphertext, key_id_for(old_key.encode()))
    moved = CredentialVersion.objects.filter(credential=credential, key_id=key_id_for(fresh_key.encode()))
    assert sorted(moved.values_list("number", flat=True)) == [1, 3]
    (event,) = rotated_events()
    assert event.details["versions"]["unreadable"] == [[str(credential.pk), 2]]
    assert event.details["versions"]["rotated"] == 2 and event.details["unreadable"] == []


def test_rows_under_an_unknown_key_are_reported_and_left_untouched(owner, old_key, settings, fresh_key):
    lost = [make_credential(owner, name=f"lost-{i}") for i in range(2)]
    lost_tokens = {c.pk: Credential.objects.get(pk=c.pk).ciphertext for c in lost}
    settings.FERNET_KEYS = [fresh_key]  # the rows' key is not configured at all
    kept = make_credential(owner, name="kept")
    err = StringIO()
    with pytest.raises(CommandError, match="2 credential"):
        call_command("rotate_encryption_keys", stdout=StringIO(), stderr=err)
    assert f"unknown key {key_id_for(old_key.encode())}: 2 rows, 2 versions" in err.getvalue()
    assert all(f"lost-{i}" in err.getvalue() for i in range(2))
    for credential in lost:
        row = Credential.objects.get(pk=credential.pk)
        assert (row.key_id, row.ciphertext) == (key_id_for(old_key.encode()), lost_tokens[credential.pk])
    assert Credential.objects.get(pk=kept.pk).key_id == key_id_for(fresh_key.encode())
    (event,) = rotated_events()
    assert event.details["unknown_key_rows"] == {key_id_for(old_key.encode()): 2}
    assert event.details["versions"]["unknown_key_versions"] == {key_id_for(old_key.encode()): 2}


def test_a_row_that_does_not_open_is_named_and_left_while_the_others_move(owner, old_key, settings, fresh_key):
    good = make_credential(owner, name="good")
    copied = make_credential(owner, name="copied")
    Credential.objects.filter(pk=copied.pk).update(ciphertext=Credential.objects.get(pk=good.pk).ciphertext)
    copied_token = Credential.objects.get(pk=copied.pk).ciphertext
    settings.FERNET_KEYS = [fresh_key, old_key]
    err = StringIO()
    with pytest.raises(CommandError, match="1 credential"):
        call_command("rotate_encryption_keys", "--passes", "2", stdout=StringIO(), stderr=err)
    assert f"unreadable: copied ({copied.pk})" in err.getvalue()
    assert "belongs to another credential" in err.getvalue()
    # Not laundered under the new key: the copied token stays where it was, under the old key.
    row = Credential.objects.get(pk=copied.pk)
    assert (row.ciphertext, row.key_id) == (copied_token, key_id_for(old_key.encode()))
    assert Credential.objects.get(pk=good.pk).key_id == key_id_for(fresh_key.encode())
    (event,) = rotated_events()
    assert event.details["unreadable"] == [str(copied.pk)] and event.details["busy"] == 0


def test_dry_run_only_counts(owner, old_key, settings, fresh_key):
    make_credential(owner, name="a")
    make_credential(owner, name="b")
    tokens = dict(Credential.objects.values_list("pk", "ciphertext"))
    settings.FERNET_KEYS = [fresh_key, old_key]
    output = rotate("--dry-run")
    assert "2 rows and 2 versions to re-encrypt" in output
    assert f"under key {key_id_for(old_key.encode())}: 2 rows, 2 versions" in output
    assert "Dry run: nothing was changed." in output
    assert dict(Credential.objects.values_list("pk", "ciphertext")) == tokens
    assert rotated_events() == []  # nothing happened, so nothing to audit


def test_an_update_with_the_version_read_before_rotation_still_applies(owner, old_key, settings, fresh_key):
    credential = make_credential(owner, "postgres", secret="before-rotation", name="pg")
    read_version = credential.version
    settings.FERNET_KEYS = [fresh_key, old_key]
    rotate()
    updated = credential_update(
        actor=owner,
        credential_id=credential.pk,
        changes={"fields": {"password": "after-rotation"}},
        expected_version=read_version,
    )
    assert updated.version == read_version + 1
    assert opens_with(fresh_key, credential)["fields"]["password"] == "after-rotation"


def test_options_are_checked(db, new_key):
    with pytest.raises(CommandError, match="--batch-size"):
        rotate("--batch-size", "0")
    with pytest.raises(CommandError, match="--passes"):
        rotate("--passes", "0")
    with pytest.raises(ValueError, match="at least 1"):
        credential_keys_rotate(batch_size=0)


def test_no_progress_bar_when_not_on_a_terminal(owner, old_key, settings, fresh_key):
    make_credential(owner, name="quiet")
    settings.FERNET_KEYS = [fresh_key, old_key]
    err = StringIO()
    call_command("rotate_encryption_keys", stdout=StringIO(), stderr=err)
    assert err.getvalue() == ""


def test_progress_counts_every_row_once(owner, old_key, settings, fresh_key):
    for i in range(7):
        make_credential(owner, name=f"p{i}")
    settings.FERNET_KEYS = [fresh_key, old_key]
    steps: list[int] = []
    report = credential_keys_rotate(batch_size=2, progress=steps.append)
    assert steps == [2, 2, 2, 1] * 2 and report.ok  # the rows, then their versions
    assert report.rows.pending == report.versions.pending == {key_id_for(old_key.encode()): 7}


class FakeTerminal(StringIO):
    def isatty(self) -> bool:
        return True


def test_a_progress_bar_on_a_terminal(owner, old_key, settings, fresh_key):
    for i in range(3):
        make_credential(owner, name=f"t{i}")
    settings.FERNET_KEYS = [fresh_key, old_key]
    terminal = FakeTerminal()
    call_command("rotate_encryption_keys", "--batch-size", "1", stdout=StringIO(), stderr=terminal)
    # tqdm redraws at most every 0.1 s: the bar may not get past its first frame in a fast run.
    assert "/6 [" in terminal.getvalue() and "row/s" in terminal.getvalue()  # 3 rows and 3 versions


def test_an_interrupted_run_keeps_its_committed_batches_and_says_so_in_its_event(owner, old_key, settings, fresh_key):
    for i in range(4):
        make_credential(owner, name=f"i{i}")
    settings.FERNET_KEYS = [fresh_key, old_key]

    def stop_after_first_batch(count):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        credential_keys_rotate(batch_size=2, progress=stop_after_first_batch)
    assert Credential.objects.filter(key_id=key_id_for(fresh_key.encode())).count() == 2
    (event,) = rotated_events()
    assert (event.details["interrupted"], event.details["rotated"]) == ("KeyboardInterrupt", 2)
    again = credential_keys_rotate()  # the rest, on the next run
    assert again.rows.rotated == {key_id_for(old_key.encode()): 2}
    assert again.versions.rotated == {key_id_for(old_key.encode()): 4}
