"""Credential services: create, update, deactivate, delete, and the one door; each audited."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audit.models import AuditEvent
from credentials.errors import (
    CredentialNotFound,
    CredentialPermissionDenied,
    InvalidCredential,
    StaleVersion,
)
from credentials.models import Credential
from credentials.services import (
    SECRET_PLACEHOLDER,
    credential_create,
    credential_deactivate,
    credential_delete,
    credential_update,
)
from credentials.validation import NAME_TAKEN
from tests.factories import audit_actions, make_credential, make_user, reveal, valid_fields

# --- create ------------------------------------------------------------------------------------


def test_create_stores_ciphertext_and_clear_metadata_only(owner):
    credential = make_credential(owner, "postgres", secret="pg-canary-1", tags=["db", "prod"])
    row = Credential.objects.get(pk=credential.pk)
    assert "pg-canary-1" not in row.ciphertext
    assert row.public_fields == {
        "host": "db.example.com", "port": 5432, "database": "app", "username": "app", "sslmode": "prefer",
    }  # fmt: skip
    assert row.secrets_set == ["password"]
    assert row.allowed_hosts == ["db.example.com"]
    assert row.key_id and row.version == 1 and row.created_by == owner
    assert audit_actions(credential) == ["created"]
    event = AuditEvent.objects.get(credential=credential)
    assert event.details["secrets_set"] == ["password"] and event.actor == owner


def test_create_reports_every_problem_and_writes_nothing(owner):
    with pytest.raises(InvalidCredential) as caught:
        credential_create(
            actor=owner,
            type_slug="postgres",
            name="  ",
            environment="Prod Env",
            fields={"host": "db", "port": "5432", "surprise": 1},
            tags=["x" * 51],
            expires_at=timezone.now() - timedelta(days=1),
        )
    problems = caught.value.as_dict()
    assert set(problems) == {"name", "environment", "tags", "expires_at", "fields"}
    # The password is optional: a role may be let in without one (trust authentication).
    assert set(problems["fields"]) == {"port", "database", "username", "surprise"}
    assert not Credential.objects.exists() and not AuditEvent.objects.exists()


def test_null_characters_are_bad_input_not_a_database_error(owner):
    with pytest.raises(InvalidCredential) as caught:
        credential_create(
            actor=owner,
            type_slug="http_bearer",
            name="bad\x00name",
            description="a\x00b",
            tags=["x\x00"],
            fields={"base_url": "https://api.example.com", "token": "tok\x00en"},
        )
    assert set(caught.value.errors) == {"name", "description", "tags"}
    assert caught.value.field_errors == {"token": ["Remove the null character."]}
    assert not Credential.objects.exists()


def test_lone_surrogates_are_refused_as_bad_input(owner):
    # JSON may carry "\ud800": not text that PostgreSQL can store or any server be sent.
    with pytest.raises(InvalidCredential) as caught:
        credential_create(
            actor=owner,
            type_slug="http_bearer",
            name="bad\ud800name",
            fields={"base_url": "https://api.example.com", "token": "tok\udfffen"},
        )
    assert set(caught.value.errors) == {"name"}
    assert caught.value.field_errors == {"token": ["Remove the invalid character (a lone surrogate)."]}
    assert not Credential.objects.exists()


def test_unknown_type_is_a_clear_error(owner):
    with pytest.raises(InvalidCredential) as caught:
        credential_create(actor=owner, type_slug="nope", name="x", fields={})
    assert caught.value.errors == {"type": ["Unknown credential type 'nope'."]}


def test_names_are_unique_per_owner_and_environment_among_active(owner, stranger):
    first = make_credential(owner, name="Deploy")
    with pytest.raises(InvalidCredential) as caught:
        make_credential(owner, name="deploy")
    assert "name" in caught.value.errors
    make_credential(owner, name="Deploy", environment="staging")
    make_credential(stranger, name="Deploy")
    credential_deactivate(actor=owner, credential_id=first.pk)
    make_credential(owner, name="Deploy")


def test_team_credentials_need_a_team_the_creator_belongs_to(owner):
    team = Group.objects.create(name="platform")
    with pytest.raises(InvalidCredential) as caught:
        make_credential(owner, team=team)
    assert "team" in caught.value.errors
    owner.groups.add(team)
    assert make_credential(owner, team=team).team == team


def test_allowed_hosts_must_cover_the_credentials_own_destination(owner):
    with pytest.raises(InvalidCredential) as caught:
        make_credential(owner, "http_bearer", allowed_hosts=["elsewhere.example"])
    assert "api.example.com" in caught.value.errors["allowed_hosts"][0]
    credential = make_credential(owner, "http_bearer", allowed_hosts=["API.example.com", "mirror.example"])
    assert credential.allowed_hosts == ["api.example.com", "mirror.example"]


# --- update ------------------------------------------------------------------------------------


def update(actor, credential, expected_version=None, **changes):
    return credential_update(
        actor=actor, credential_id=credential.pk, changes=changes, expected_version=expected_version
    )


@pytest.mark.parametrize("kept", [None, "", SECRET_PLACEHOLDER])
def test_a_secret_omitted_blank_or_placeholder_is_kept(owner, kept):
    credential = make_credential(owner, "postgres", secret="keep-me-stored")
    fields = {"username": "renamed"} if kept is None else {"username": "renamed", "password": kept}
    updated = update(owner, credential, fields=fields, description="now described")
    assert updated.version == 2 and updated.public_fields["username"] == "renamed"
    assert reveal(owner, credential)["password"] == "keep-me-stored"
    event = AuditEvent.objects.filter(action="updated").get()
    assert event.details["changes"]["fields"] == {"username": {"old": "app", "new": "renamed"}}
    assert event.details["changes"]["description"] == {"old": "", "new": "now described"}


def test_a_new_secret_is_recorded_only_as_changed(owner):
    credential = make_credential(owner, secret="old-token")
    update(owner, credential, fields={"token": "new-token"})
    assert reveal(owner, credential)["token"] == "new-token"
    changes = AuditEvent.objects.get(action="updated").details["changes"]
    assert changes == {"fields": {"token": "changed"}}


def test_an_explicit_null_clears_an_optional_secret(owner):
    from tests.factories import ssh_keypair

    credential = make_credential(owner, "ssh_key", secret="pass-one")
    private_key, _ = ssh_keypair("")
    update(owner, credential, fields={"private_key": private_key, "passphrase": None})
    assert Credential.objects.get(pk=credential.pk).secrets_set == ["private_key"]


def test_nothing_changed_writes_nothing(owner):
    credential = make_credential(owner)
    same = update(owner, credential, name=credential.name, fields={"token": ""})
    assert same.version == 1 and audit_actions(credential) == ["created"]


def test_stale_version_is_refused_and_nothing_is_written(owner):
    credential = make_credential(owner)
    update(owner, credential, expected_version=1, description="first")
    with pytest.raises(StaleVersion, match="version 2"):
        update(owner, credential, expected_version=1, description="second")
    assert Credential.objects.get(pk=credential.pk).description == "first"


def test_moving_the_destination_requires_the_secret_again(owner):
    credential = make_credential(owner, "http_bearer", secret="bearer-canary")
    with pytest.raises(InvalidCredential) as caught:
        update(owner, credential, fields={"base_url": "https://attacker.example"})
    assert "Enter this secret again" in caught.value.field_errors["token"][0]
    assert Credential.objects.get(pk=credential.pk).version == 1

    update(owner, credential, fields={"base_url": "https://api2.example.com", "token": "bearer-canary"})
    row = Credential.objects.get(pk=credential.pk)
    assert row.allowed_hosts == ["api2.example.com"]
    assert reveal(owner, credential).allowed_hosts == ("api2.example.com",)


def test_changing_allowed_hosts_requires_the_secret_again(owner):
    credential = make_credential(owner, "github_pat")
    with pytest.raises(InvalidCredential) as caught:
        update(owner, credential, allowed_hosts=["api.github.com", "github.com", "evil.example"])
    assert "allowed_hosts" in caught.value.errors and "token" in caught.value.field_errors
    update(
        owner,
        credential,
        allowed_hosts=["api.github.com", "github.com", "mirror.example"],
        fields={"token": "token-two"},
    )
    assert reveal(owner, credential).allowed_hosts == ("api.github.com", "github.com", "mirror.example")


def test_update_validates_fields_and_attributes(owner):
    credential = make_credential(owner, "postgres")
    with pytest.raises(InvalidCredential) as caught:
        update(owner, credential, fields={"port": 0, "bogus": "x"}, environment="BAD ENV")
    assert set(caught.value.field_errors) == {"port", "bogus"}
    assert set(caught.value.errors) == {"environment"}
    with pytest.raises(InvalidCredential) as caught:
        update(owner, credential, owner="someone")
    assert caught.value.errors == {"owner": ["This attribute cannot be changed here."]}


def test_renaming_onto_a_taken_name_is_refused(owner):
    make_credential(owner, name="taken")
    other = make_credential(owner, name="free")
    with pytest.raises(InvalidCredential) as caught:
        update(owner, other, name="TAKEN")
    assert "name" in caught.value.errors


def test_only_those_allowed_may_change(owner, stranger):
    credential = make_credential(owner)
    with pytest.raises(CredentialNotFound):
        update(stranger, credential, description="mine now")
    viewer = make_user("viewer", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_credential"))
    with pytest.raises(CredentialPermissionDenied):
        update(viewer, credential, description="mine now")


# --- deactivate and delete ------------------------------------------------------------------


def test_deactivate_is_audited_once(owner):
    credential = make_credential(owner)
    credential_deactivate(actor=owner, credential_id=credential.pk)
    credential_deactivate(actor=owner, credential_id=credential.pk)
    assert audit_actions(credential) == ["created", "deactivated"]


def test_delete_audits_first_overwrites_then_removes(owner):
    credential = make_credential(owner)
    with CaptureQueriesContext(connection) as queries:
        credential_delete(actor=owner, credential_id=credential.pk, ip="127.0.0.1")
    statements = [q["sql"] for q in queries.captured_queries]
    insert_audit = next(
        i for i, s in enumerate(statements) if s.replace('"', "").startswith("INSERT INTO audit_auditevent")
    )
    overwrite = next(i for i, s in enumerate(statements) if 'UPDATE "credentials_credential" SET "ciphertext"' in s)
    remove = next(i for i, s in enumerate(statements) if s.startswith('DELETE FROM "credentials_credential"'))
    assert insert_audit < overwrite < remove
    assert not Credential.objects.filter(pk=credential.pk).exists()
    # The history outlives the credential: id and name are kept as text.
    assert audit_actions(credential) == ["created", "deleted"]
    deleted = AuditEvent.objects.get(action="deleted")
    assert deleted.credential is None and deleted.credential_name == credential.name


def test_only_those_allowed_may_delete(owner, stranger):
    credential = make_credential(owner)
    with pytest.raises(CredentialNotFound):
        credential_delete(actor=stranger, credential_id=credential.pk)
    assert Credential.objects.filter(pk=credential.pk).exists()


def test_every_builtin_type_stores_and_reveals(owner):
    from tests.factories import BUILTIN_SLUGS

    for slug in BUILTIN_SLUGS:
        credential = make_credential(owner, slug, secret=f"{slug}-canary")
        secret = reveal(owner, credential)
        assert f"{slug}-canary" in secret.secret_values
        assert secret.values == {**credential.public_fields, **{k: secret[k] for k in secret.secret_names}}
        assert valid_fields(slug, f"{slug}-canary").items() <= secret.values.items()


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_create_and_its_event_commit_together_or_not_at_all():
    # Nothing wraps these calls: on PostgreSQL the INSERT and the audit append travel as one
    # batch, which the server runs as one transaction.
    owner = make_user("committer")
    credential = make_credential(owner, name="once")
    assert Credential.objects.filter(pk=credential.pk).exists()
    assert audit_actions(credential) == ["created"]
    with pytest.raises(InvalidCredential) as caught:
        make_credential(owner, name="ONCE")
    assert caught.value.errors == {"name": [NAME_TAKEN]}
    assert Credential.objects.count() == 1
    assert AuditEvent.objects.count() == 1
    from audit.verification import audit_verify_chain

    assert audit_verify_chain().ok


def test_inside_a_transaction_a_refused_create_leaves_it_usable(owner):
    make_credential(owner, name="taken")
    with pytest.raises(InvalidCredential):
        make_credential(owner, name="taken")
    # The caller's transaction goes on: the failed write was confined to a savepoint.
    assert make_credential(owner, name="free").name == "free"


def test_an_unreadable_secret_is_reported_and_repaired_by_entering_every_field(owner):
    credential = make_credential(owner, "postgres", secret="lost-with-its-key")
    other = make_credential(owner, "postgres")
    Credential.objects.filter(pk=credential.pk).update(ciphertext=other.ciphertext)
    with pytest.raises(InvalidCredential) as caught:
        update(owner, credential, fields={"username": "renamed"})
    (message,) = caught.value.errors["__all__"]
    assert str(credential.pk) in message and "Enter every field again" in message
    assert {"host", "database"} <= set(caught.value.field_errors)  # required, and not re-entered

    update(owner, credential, fields={**valid_fields("postgres", "new-password"), "username": "renamed"})
    secret = reveal(owner, credential)
    assert (secret["password"], secret["username"]) == ("new-password", "renamed")
    changes = AuditEvent.objects.filter(action="updated").get().details["changes"]
    assert changes["fields"]["password"] == "changed"
