"""The credential list's rows, built by hand for speed, against CredentialOutput: same keys, same values."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone
from rest_framework.test import APIClient

from credentials.api.serializers import CredentialOutput
from credentials.models import Credential
from credentials.sharing import credential_share
from tests.factories import make_credential, make_user

ROLES = ("owner", "member", "viewer", "superuser")


@pytest.fixture
def users(owner, superuser):
    team = Group.objects.create(name="output-team")
    member, viewer = make_user("member"), make_user("viewer")
    team.user_set.add(owner, member)
    in_team = make_credential(owner, "ssh_key", team=team, tags=["a", "b"])  # metadata: the key's fingerprint
    expires = make_credential(owner, "redis", expires_at=timezone.now() + timedelta(days=3), retest_daily=True)
    expired = make_credential(owner, "http_basic", team=team)
    Credential.objects.filter(pk=expired.pk).update(
        expires_at=timezone.now() - timedelta(days=1),
        test_status="failed",
        test_message="Connection refused.",
        test_failures=9,
        last_tested=timezone.now(),
    )
    for credential in (in_team, expires, expired):
        credential_share(actor=owner, credential_id=credential.pk, permissions=["view"], user=viewer)
    return {"owner": owner, "member": member, "viewer": viewer, "superuser": superuser}


@pytest.mark.parametrize("role", ROLES)
def test_a_list_row_is_the_detail_of_the_same_credential(users, role):
    client = APIClient()
    client.force_authenticate(users[role])

    rows = client.get("/api/credentials/").json()["results"]

    assert len(rows) == (2 if role == "member" else 3)
    for row in rows:
        detail = client.get(f"/api/credentials/{row['id']}/").json()
        assert list(row) == list(detail) == list(CredentialOutput().fields)
        assert row == detail


def test_the_rows_compared_cover_what_a_row_may_show(users):
    """The comparison above means something: it meets null and non-null values of the view-only keys."""
    client = APIClient()
    client.force_authenticate(users["member"])
    hidden = client.get("/api/credentials/").json()["results"]
    client.force_authenticate(users["owner"])
    shown = client.get("/api/credentials/").json()["results"]

    assert all(row["fields"] is None and row["secrets_set"] is None for row in hidden)
    assert all(row["secrets_set"] and all(row["secrets_set"].values()) for row in shown)
    assert {row["is_expired"] for row in shown} == {True, False}
    assert any(row["team"] for row in shown) and any(row["team"] is None for row in shown)
    assert any(row["metadata"] for row in shown) and any(row["test_message"] for row in shown)
    assert any(row["test_flagged"] for row in shown)
