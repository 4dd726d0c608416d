"""Two users: every credential id A owns answers 404 to B on every endpoint and verb, and B's lists reveal none."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone
from rest_framework.test import APIClient

from audit.models import AuditAction, AuditEvent
from credentials.door import credential_reveal
from credentials.models import Credential, CredentialGroupPermission, CredentialUserPermission
from credentials.services import credential_update
from credentials.sharing import credential_share, credential_unshare
from credentials.teams import team_set_manager
from tests.factories import make_credential, make_user

A_TYPES = ("github_pat", "ssh_key", "postgres", "http_bearer", "redis")
A_TAG = "alice-only-tag"
A_ENVIRONMENT = "alice-staging"

CREDENTIAL_PATHS = (
    "/api/credentials/{id}/",
    "/api/credentials/{id}/audit-logs/",
    "/api/credentials/{id}/usage/",
    "/api/credentials/{id}/shares/",
)
VERBS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE")

# Who B is: in every case B has no relation to A's credentials.
B_KINDS = ("plain", "staff-without-model-permissions", "manager-of-another-team")


@dataclass
class TwoUsers:
    alice: Any
    bob: Any
    carol: Any  # someone A shares with, whose shares B tries to remove
    alice_credentials: list[Credential]
    bob_credential: Credential
    secrets: tuple[str, ...]


def _bob(kind: str, superuser: Any) -> Any:
    if kind == "plain":
        return make_user("bob")
    if kind == "staff-without-model-permissions":
        return make_user("bob", is_staff=True)
    bob = make_user("bob")
    team_set_manager(actor=superuser, team=Group.objects.create(name="bob-team"), user=bob, is_manager=True)
    return bob


def build_two_users(bob_kind: str) -> TwoUsers:
    superuser = make_user("isolation-root", is_staff=True, is_superuser=True)
    alice = make_user("alice")
    carol = make_user("carol")
    readers = Group.objects.create(name="alice-readers")
    readers.user_set.add(carol)
    alice_team = Group.objects.create(name="alice-team")
    alice_team.user_set.add(alice, carol)
    bob = _bob(bob_kind, superuser)

    secrets = []
    alice_credentials = []
    for index, slug in enumerate(A_TYPES):
        secret = f"alice-canary-{uuid.uuid4().hex}"
        secrets.append(secret)
        credential = make_credential(
            alice,
            slug,
            secret=secret,
            name=f"alice-{slug}",
            environment=A_ENVIRONMENT,
            description=f"alice's {slug} description",
            tags=[A_TAG, slug],
            expires_at=timezone.now() + timedelta(days=3),
            team=alice_team if index % 2 else None,
        )
        credential_share(actor=alice, credential_id=credential.pk, permissions=["use", "view"], user=carol)
        credential_share(actor=alice, credential_id=credential.pk, permissions=["use"], group=readers)
        alice_credentials.append(credential)
    # Some history: an update, a share taken back, and uses through the one door.
    first = alice_credentials[0]
    credential_update(actor=alice, credential_id=first.pk, changes={"description": "rotated soon"})
    credential_unshare(actor=alice, credential_id=first.pk, group=readers)
    credential_reveal(actor=alice, credential_id=first.pk, service="isolation-test")
    credential_reveal(actor=carol, credential_id=alice_credentials[1].pk, service="isolation-test")
    for credential in alice_credentials:
        credential.refresh_from_db()

    bob_secret = f"bob-canary-{uuid.uuid4().hex}"
    bob_credential = make_credential(bob, "github_pat", secret=bob_secret, name="bob-github", tags=["bob-tag"])
    return TwoUsers(
        alice=alice,
        bob=bob,
        carol=carol,
        alice_credentials=alice_credentials,
        bob_credential=bob_credential,
        secrets=(*secrets, bob_secret),
    )


@pytest.fixture(params=B_KINDS)
def two_users(request, db) -> TwoUsers:
    return build_two_users(request.param)


def _client(user: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def _snapshot() -> dict[str, Any]:
    """The credential rows (versions included), every share, and every audit event that records a change."""
    access = (AuditAction.ACCESS_DENIED, AuditAction.ACCESS_FAILED, AuditAction.ACCESSED)
    return {
        "credentials": list(Credential.objects.order_by("pk").values()),
        "user_shares": sorted(
            CredentialUserPermission.objects.values_list("content_object_id", "user_id", "permission__codename")
        ),
        "group_shares": sorted(
            CredentialGroupPermission.objects.values_list("content_object_id", "group_id", "permission__codename")
        ),
        "changes_audited": list(AuditEvent.objects.exclude(action__in=access).order_by("id").values_list("id", "mac")),
    }


def _attempt(client: APIClient, method: str, path: str, credential: Credential, two: TwoUsers) -> Any:
    """B's best try: well-formed bodies with the right version, so only the lookup can refuse it."""
    url = path.format(id=credential.pk)
    body: dict[str, Any] | None = None
    if path.endswith("/shares/"):
        if method == "DELETE":
            url += f"?user={two.carol.username}"
        else:
            body = {"user": two.bob.username, "permissions": ["use", "view", "change"]}
    elif method in ("PUT", "PATCH", "POST"):
        body = {
            "version": credential.version,
            "name": credential.name,
            "environment": credential.environment,
            "fields": {},
            "description": "bob was here",
        }
    return client.generic(
        method, url, data=json.dumps(body) if body is not None else "", content_type="application/json"
    )


@pytest.mark.parametrize("path", CREDENTIAL_PATHS)
def test_every_id_of_a_answers_404_to_b_on_every_verb(two_users: TwoUsers, path: str) -> None:
    bob = _client(two_users.bob)
    before = _snapshot()
    wrong: list[str] = []  # every (verb, credential) that does not answer as a missing object, reported at once

    for method in VERBS:
        for credential in two_users.alice_credentials:
            response = _attempt(bob, method, path, credential, two_users)

            where = f"{method} {path} on A's {credential.type.slug}"
            if response.status_code != 404:
                wrong.append(f"{where}: {response.status_code} {response.content[:200]!r}")
            elif method != "HEAD" and response.json().get("code") != "not_found":
                wrong.append(f"{where}: body {response.content[:200]!r}")
            leaked = (credential.name, A_TAG, A_ENVIRONMENT, two_users.carol.username, *two_users.secrets)
            wrong.extend(f"{where}: shows {text!r}" for text in leaked if text.encode() in response.content)
            if _snapshot() != before:
                wrong.append(f"{where}: changed the credentials, their shares or their audited history")
                before = _snapshot()

    assert wrong == []


def test_a_hidden_id_is_answered_like_a_missing_one(two_users: TwoUsers) -> None:
    bob = _client(two_users.bob)
    hidden = two_users.alice_credentials[0].pk

    for path in CREDENTIAL_PATHS:
        answers = {
            what: bob.get(path.format(id=credential_id))
            for what, credential_id in (("hidden", hidden), ("missing", uuid.uuid4()), ("malformed", "not-a-uuid"))
        }

        assert {what: r.status_code for what, r in answers.items()} == dict.fromkeys(answers, 404), path
        assert answers["hidden"].json() == answers["missing"].json() == answers["malformed"].json(), path


def _ids(response: Any) -> set[str]:
    assert response.status_code == 200, response.content[:300]
    return {row["id"] for row in response.json()["results"]}


def test_b_lists_only_b_credential(two_users: TwoUsers) -> None:
    response = _client(two_users.bob).get("/api/credentials/", {"page_size": 1000})

    assert _ids(response) == {str(two_users.bob_credential.pk)}
    assert response.json()["count"] == 1
    for credential in two_users.alice_credentials:
        assert credential.name.encode() not in response.content
    for secret in two_users.secrets:
        assert secret.encode() not in response.content


FILTERS = {
    "search by name": lambda two: {"search": two.alice_credentials[0].name},
    "search by name prefix": lambda two: {"search": "alice"},
    "search by description": lambda two: {"search": "alice's"},
    "type": lambda two: {"type": "ssh_key"},
    "tag": lambda two: {"tag": A_TAG},
    "environment": lambda two: {"environment": A_ENVIRONMENT},
    "expiring within": lambda two: {"expiring_within": 7},
    "every filter at once": lambda two: {
        "search": "alice",
        "type": "postgres",
        "tag": A_TAG,
        "environment": A_ENVIRONMENT,
        "expiring_within": 7,
    },
}


@pytest.mark.parametrize("query", list(FILTERS.values()), ids=list(FILTERS))
def test_filters_reveal_nothing_of_a_to_b(two_users: TwoUsers, query) -> None:
    params = query(two_users)
    alice_ids = {str(c.pk) for c in two_users.alice_credentials}
    # The filter does find A's credentials for A, so B's empty answer is not an empty filter's.
    assert _ids(_client(two_users.alice).get("/api/credentials/", params)) & alice_ids

    response = _client(two_users.bob).get("/api/credentials/", params)

    assert not _ids(response) & alice_ids
    assert b"alice" not in response.content
