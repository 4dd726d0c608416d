"""The one door: who may reveal, what is refused, ciphertext bound to its row, every outcome audited."""

import uuid
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from audit.models import AuditEvent
from credentials.door import credential_reveal
from credentials.errors import (
    CredentialNotFound,
    CredentialPermissionDenied,
    CredentialUnavailable,
    CredentialUnreadable,
    DestinationRefused,
    RevealRefused,
)
from credentials.keys.ring import MisboundError, TamperedError, UnknownKeyError
from credentials.models import Credential
from credentials.services import credential_deactivate
from tests.factories import make_credential, make_user, reveal


def test_owner_reveals_and_the_access_is_audited(owner):
    credential = make_credential(owner, "http_basic", secret="basic-canary")
    secret = reveal(owner, credential, fields=["password"], ip="10.0.0.7")
    assert secret["password"] == "basic-canary"
    assert dict(secret.values) == {"password": "basic-canary"}
    assert "basic-canary" not in repr(secret)
    event = AuditEvent.objects.filter(action="accessed").get()
    assert (event.service, event.fields, event.ip) == ("tests", ["password"], "10.0.0.7")


def test_stranger_is_told_not_found_and_the_attempt_is_audited(owner, stranger):
    credential = make_credential(owner)
    with pytest.raises(CredentialNotFound):
        reveal(stranger, credential)
    event = AuditEvent.objects.filter(action="access_denied").get()
    assert event.actor == stranger and event.details == {"reason": "no use permission"}


def test_staff_who_may_view_but_not_use_are_refused(owner):
    staff = make_user("viewer", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_credential"))
    credential = make_credential(owner)
    with pytest.raises(CredentialPermissionDenied):
        reveal(staff, credential)
    staff.user_permissions.add(Permission.objects.get(codename="use_credential"))
    staff = type(staff).objects.get(pk=staff.pk)  # drop the permission cache
    assert reveal(staff, credential)["token"] == "s3cret-value"


def test_superuser_may_use_any_credential(owner, superuser):
    assert reveal(superuser, make_credential(owner))["token"] == "s3cret-value"


def test_missing_or_malformed_ids_are_not_found(owner):
    for credential_id in ("not-a-uuid", "00000000-0000-0000-0000-000000000000"):
        with pytest.raises(CredentialNotFound):
            credential_reveal(actor=owner, credential_id=credential_id, service="tests")


def test_inactive_and_expired_credentials_are_refused(owner):
    inactive = make_credential(owner)
    credential_deactivate(actor=owner, credential_id=inactive.pk)
    with pytest.raises(CredentialUnavailable, match="inactive"):
        reveal(owner, inactive)
    expiring = make_credential(owner, expires_at=timezone.now() + timedelta(seconds=30))
    Credential.objects.filter(pk=expiring.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(CredentialUnavailable, match="expired"):
        reveal(owner, expiring)
    reasons = AuditEvent.objects.filter(action="access_denied").values_list("details__reason", flat=True)
    assert sorted(reasons) == ["expired", "inactive"]


def test_ciphertext_swapped_between_rows_fails_clearly_and_is_audited(owner):
    first = make_credential(owner, secret="first-secret")
    second = make_credential(owner, secret="second-secret")
    Credential.objects.filter(pk=second.pk).update(ciphertext=first.ciphertext, key_id=first.key_id)
    with pytest.raises(MisboundError) as caught:
        reveal(owner, second)
    assert str(second.pk) in str(caught.value) and "first-secret" not in str(caught.value)
    event = AuditEvent.objects.filter(action="access_failed").get()
    assert "copied from another row" in event.details["reason"]


def test_altered_ciphertext_fails_clearly(owner):
    credential = make_credential(owner)
    Credential.objects.filter(pk=credential.pk).update(ciphertext=credential.ciphertext[:-8] + "AAAAAAAA")
    with pytest.raises(TamperedError):
        reveal(owner, credential)


def test_destinations_come_from_the_authenticated_payload(owner):
    credential = make_credential(owner, "http_bearer")
    # Someone with database access widens the clear column: the sealed copy still rules.
    Credential.objects.filter(pk=credential.pk).update(allowed_hosts=["evil.example"])
    secret = reveal(owner, credential)
    secret.check_destination("API.example.com")
    with pytest.raises(DestinationRefused, match=r"evil\.example"):
        secret.check_destination("evil.example")


def test_unknown_field_names_are_a_programming_error(owner):
    with pytest.raises(ValueError, match=r"no field"):
        reveal(owner, make_credential(owner), fields=["password"])


def test_every_refusal_is_one_family_that_callers_catch_once(owner, stranger):
    staff = make_user("view-only", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_credential"))
    usable = make_credential(owner)
    inactive = make_credential(owner)
    credential_deactivate(actor=owner, credential_id=inactive.pk)
    expired = make_credential(owner, expires_at=timezone.now() + timedelta(seconds=30))
    Credential.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    misbound, tampered, unknown_key = (make_credential(owner) for _ in range(3))
    Credential.objects.filter(pk=misbound.pk).update(ciphertext=usable.ciphertext, key_id=usable.key_id)
    Credential.objects.filter(pk=tampered.pk).update(ciphertext=tampered.ciphertext[:-8] + "AAAAAAAA")
    Credential.objects.filter(pk=unknown_key.pk).update(key_id="0" * 16)
    attempts = {
        "malformed id": lambda: credential_reveal(actor=owner, credential_id="not-a-uuid", service="tests"),
        "missing": lambda: credential_reveal(actor=owner, credential_id=uuid.uuid4(), service="tests"),
        "hidden": lambda: reveal(stranger, usable),
        "view only": lambda: reveal(staff, usable),
        "inactive": lambda: reveal(owner, inactive),
        "expired": lambda: reveal(owner, expired),
        "misbound": lambda: reveal(owner, misbound),
        "tampered": lambda: reveal(owner, tampered),
        "unknown key": lambda: reveal(owner, unknown_key),
        "elsewhere": lambda: reveal(owner, usable).check_destination("evil.example"),
    }
    refused = {}
    for outcome, attempt in attempts.items():
        with pytest.raises(RevealRefused) as caught:
            attempt()
        refused[outcome] = type(caught.value)
    assert refused == {
        "malformed id": CredentialNotFound,
        "missing": CredentialNotFound,
        "hidden": CredentialNotFound,
        "view only": CredentialPermissionDenied,
        "inactive": CredentialUnavailable,
        "expired": CredentialUnavailable,
        "misbound": MisboundError,
        "tampered": TamperedError,
        "unknown key": UnknownKeyError,
        "elsewhere": DestinationRefused,
    }
    # A row the key ring cannot open is the family's member for an unreadable row, with the ring's details.
    assert all(issubclass(refused[o], CredentialUnreadable) for o in ("misbound", "tampered", "unknown key"))
    # Still Django's PermissionDenied: the pages and the API answer 403 as before.
    assert issubclass(CredentialPermissionDenied, PermissionDenied)
    # A field name the type does not have is the caller's bug, not a refusal.
    with pytest.raises(ValueError) as caught:
        reveal(owner, usable, fields=["password"])
    assert not isinstance(caught.value, RevealRefused)
