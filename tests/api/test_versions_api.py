"""The secret history through the API: listed without values, rolled back, destroyed; every refusal its 4xx."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from audit.models import AuditEvent
from credentials.models import Credential, CredentialVersion
from credentials.services import credential_update
from credentials.sharing import credential_share
from tests.factories import make_credential, make_user, reveal

FIRST, SECOND = "first-secret-api-1111", "second-secret-api-2222"


@pytest.fixture
def credential(owner):
    made = make_credential(owner, "http_bearer", secret=FIRST, name="versioned-api")
    credential_update(
        actor=owner,
        credential_id=made.pk,
        changes={"fields": {"base_url": "https://api2.example.com", "token": SECOND}},
    )
    return Credential.objects.get(pk=made.pk)


def url(credential, tail: str = "") -> str:
    return f"/api/credentials/{credential.pk}/versions/{tail}"


def written() -> tuple[int, int]:
    return AuditEvent.objects.count(), CredentialVersion.objects.count()


def test_the_list_says_who_when_and_what_changed_never_a_value(api_client, credential):
    response = api_client.get(url(credential))
    assert response.status_code == 200
    body = response.json()
    assert [(v["number"], v["is_current"], v["origin"]) for v in body] == [(2, True, "changed"), (1, False, "created")]
    assert set(body[0]) == {
        "number", "is_current", "origin", "restored_from", "changed_fields", "key_id", "created_at",
        "created_by", "event", "destroyed_at", "destroyed_by",
    }  # fmt: skip
    assert set(body[0]["changed_fields"]) == {"allowed_hosts", "base_url", "token"}
    assert FIRST.encode() not in response.content and SECOND.encode() not in response.content


def test_rollback_restores_the_secret_and_its_hosts_and_says_so(api_client, owner, credential):
    response = api_client.post(url(credential, "1/rollback/"), {"version": credential.version}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["restored_from"], body["secret_version"], body["hosts_restored"]) == (1, 3, True)
    assert "allowed hosts were restored" in body["message"]
    assert body["credential"]["allowed_hosts"] == ["api.example.com"]
    assert body["credential"]["secret_version"] == 3
    assert response["ETag"] == f'"{credential.version + 1}"'
    assert reveal(owner, credential)["token"] == FIRST
    assert FIRST.encode() not in response.content


def test_rollback_takes_if_match(api_client, credential):
    response = api_client.post(
        url(credential, "1/rollback/"), {}, format="json", HTTP_IF_MATCH=f'"{credential.version}"'
    )
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("body", "headers", "status"),
    [
        ({}, {}, 428),
        ({"version": 999}, {}, 409),
        ({}, {"HTTP_IF_MATCH": '"999"'}, 412),
        ({"version": "two"}, {}, 400),
        ({"version": 1, "force": True}, {}, 400),
    ],
)
def test_rollback_preconditions_and_bad_input_write_nothing(api_client, credential, body, headers, status):
    before = written()
    response = api_client.post(url(credential, "1/rollback/"), body, format="json", **headers)
    assert response.status_code == status, response.content
    assert written() == before


def test_rolling_back_to_what_does_not_exist_was_destroyed_or_is_another_credentials_is_404(
    api_client, owner, credential
):
    other = make_credential(owner, "github_pat", name="other")
    credential_update(actor=owner, credential_id=other.pk, changes={"fields": {"token": "other-secret-3"}})
    credential_update(actor=owner, credential_id=other.pk, changes={"fields": {"token": "other-secret-4"}})
    assert api_client.delete(url(credential, "1/")).status_code == 204
    before = written()
    for number in (1, 3, 99):  # destroyed; the other credential has a 3, this one does not; none
        response = api_client.post(
            url(credential, f"{number}/rollback/"), {"version": credential.version}, format="json"
        )
        assert response.status_code == 404 and response.json()["code"] == "not_found"
    assert api_client.post(url(credential, "x/rollback/"), {}, format="json").status_code == 404
    assert written() == before


def test_the_current_version_is_neither_restored_nor_destroyed(api_client, credential):
    before = written()
    response = api_client.post(url(credential, "2/rollback/"), {"version": credential.version}, format="json")
    assert response.status_code == 400 and "already the current one" in response.json()["errors"]["version"][0]
    response = api_client.delete(url(credential, "2/"))
    assert response.status_code == 400 and list(response.json()["errors"]) == ["version"]
    assert written() == before


@pytest.mark.parametrize("permissions", [["use"], ["view"]])
def test_use_or_view_alone_may_not_roll_back(owner, credential, permissions):
    user = make_user("limited")
    credential_share(actor=owner, credential_id=credential.pk, user=user, permissions=permissions)
    client = APIClient()
    client.force_authenticate(user)
    before = written()
    response = client.post(url(credential, "1/rollback/"), {"version": credential.version}, format="json")
    assert response.status_code == 403
    assert client.delete(url(credential, "1/")).status_code == 403
    assert written() == before


def test_keep_versions_through_the_api(api_client, owner, credential):
    made = api_client.post(
        "/api/credentials/",
        {"type": "github_pat", "name": "kept", "fields": {"token": "kept-secret-5555"}, "keep_versions": 3},
        format="json",
    )
    assert made.status_code == 201 and made.json()["keep_versions"] == 3 and made.json()["secret_version"] == 1
    pk = made.json()["id"]
    listed = {row["id"]: row for row in api_client.get("/api/credentials/").json()["results"]}
    assert listed[pk]["keep_versions"] == 3
    changed = api_client.patch(f"/api/credentials/{pk}/", {"version": 1, "keep_versions": None}, format="json")
    assert changed.status_code == 200 and changed.json()["keep_versions"] is None
    refused = api_client.patch(f"/api/credentials/{pk}/", {"version": 2, "keep_versions": 0}, format="json")
    assert refused.status_code == 400 and list(refused.json()["errors"]) == ["keep_versions"]
    changer = make_user("changer")
    credential_share(actor=owner, credential_id=pk, user=changer, permissions=["change"])
    client = APIClient()
    client.force_authenticate(changer)
    assert client.patch(f"/api/credentials/{pk}/", {"version": 2, "keep_versions": 1}, format="json").status_code == 403
