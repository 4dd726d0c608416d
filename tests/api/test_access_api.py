"""Time-bound access through the API: shares with an end, requestable credentials, requests and decisions."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from rest_framework.test import APIClient

from audit.models import AuditEvent
from credentials.models import AccessRequest
from tests.factories import CLOCK_START as START
from tests.factories import make_credential, make_user, reveal


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def credential(owner, clock):
    return make_credential(owner, "github_pat", name="api-contract")


@pytest.fixture
def requestable(owner, credential, contractors):
    response = client_for(owner).put(
        f"/api/credentials/{credential.pk}/requestable/",
        {"group": "contractors", "max_access_hours": 48},
        format="json",
    )
    assert response.status_code == 200
    assert response.json() == {
        "group": "contractors",
        "everyone": False,
        "max_access_hours": 48,
        "effective_max_hours": 48,
    }
    return credential


def written() -> tuple[int, int]:
    return AuditEvent.objects.count(), AccessRequest.objects.count()


def test_a_share_with_an_end_is_listed_and_refused_one_second_after(owner, credential, clock):
    friend = make_user("friend")
    end = START + timedelta(hours=2)
    shared = client_for(owner).post(
        f"/api/credentials/{credential.pk}/shares/",
        {"user": "friend", "permissions": ["use"], "expires_at": end.isoformat()},
        format="json",
    )
    assert shared.status_code == 200 and shared.json()["expires_at"] == {"use": "2026-12-01T11:00:00Z"}
    listed = client_for(owner).get(f"/api/credentials/{credential.pk}/shares/").json()
    assert listed[0]["expires_at"] == {"use": "2026-12-01T11:00:00Z"}
    clock.move_to(end - timedelta(seconds=1))
    assert client_for(friend).post(f"/api/credentials/{credential.pk}/test/").status_code == 202
    assert [row["name"] for row in client_for(friend).get("/api/credentials/").json()["results"]] == ["api-contract"]
    clock.move_to(end + timedelta(seconds=1))
    assert client_for(friend).post(f"/api/credentials/{credential.pk}/test/").status_code == 404
    assert client_for(friend).get("/api/credentials/").json()["results"] == []


# The last: no time zone, so no exact second (it would be read in the server's zone).
@pytest.mark.parametrize("end", ["2026-12-01T08:59:59Z", "2026-12-01T09:00:00Z", "tomorrow", 5, "2026-12-02T09:00:00"])
def test_an_end_in_the_past_or_not_a_time_is_refused_on_its_field(owner, credential, end):
    make_user("friend")
    before = written()
    response = client_for(owner).post(
        f"/api/credentials/{credential.pk}/shares/",
        {"user": "friend", "permissions": ["use"], "expires_at": end},
        format="json",
    )
    assert response.status_code == 400 and list(response.json()["errors"]) == ["expires_at"]
    assert written() == before


def test_request_approve_use_and_expire(owner, member, requestable, clock):
    listed = client_for(member).get("/api/requestable-credentials/").json()["results"]
    assert listed == [
        {
            "id": str(requestable.pk), "name": "api-contract", "type": "github_pat",
            "type_name": "GitHub personal access token", "environment": "production", "owner": "owner",
            "description": "",
        }
    ]  # fmt: skip
    asked = client_for(member).post(
        "/api/access-requests/",
        {"credential": str(requestable.pk), "permission": "use", "hours": 8, "reason": "Deploy tonight"},
        format="json",
    )
    assert asked.status_code == 201 and asked.json()["status"] == "pending"
    request_id = asked.json()["id"]
    assert [r["id"] for r in client_for(owner).get("/api/access-requests/review/").json()["results"]] == [request_id]
    assert [r["id"] for r in client_for(member).get("/api/access-requests/").json()["results"]] == [request_id]
    approved = client_for(owner).post(f"/api/access-requests/{request_id}/approve/")
    assert approved.status_code == 200 and approved.json()["grant_expires_at"] == "2026-12-01T17:00:00Z"
    clock.move_to(START + timedelta(hours=8, seconds=-1))
    assert reveal(member, requestable)
    clock.move_to(START + timedelta(hours=8, seconds=1))
    assert client_for(member).get(f"/api/credentials/{requestable.pk}/").status_code == 404
    again = client_for(owner).post(f"/api/access-requests/{request_id}/approve/")
    assert again.status_code == 409 and again.json()["code"] == "conflict"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"hours": 49}, "hours"),
        ({"hours": 0}, "hours"),
        ({"hours": -1}, "hours"),
        ({"hours": "many"}, "hours"),
        ({"hours": 1.5}, "hours"),
        ({"hours": True}, "hours"),
        ({"hours": None}, "hours"),
        ({"permission": "change"}, "permission"),
        ({"reason": ""}, "reason"),
        ({"reason": 7}, "reason"),
        ({"extra": True}, "extra"),
    ],
)
def test_bad_requests_are_refused_by_field_and_write_nothing(member, requestable, body, field):
    before = written()
    data = {"credential": str(requestable.pk), "permission": "use", "hours": 8, "reason": "Deploy", **body}
    response = client_for(member).post("/api/access-requests/", data, format="json")
    assert response.status_code == 400 and field in response.json()["errors"]
    assert written() == before


def test_what_may_not_be_discovered_is_404_and_what_is_held_is_400(owner, member, requestable):
    hidden = make_credential(owner, "github_pat", name="hidden")
    before = written()
    body = {"credential": str(hidden.pk), "permission": "use", "hours": 1, "reason": "please"}
    assert client_for(member).post("/api/access-requests/", body, format="json").status_code == 404
    outsider = client_for(make_user("outsider"))
    assert (
        outsider.post("/api/access-requests/", {**body, "credential": str(requestable.pk)}, format="json").status_code
        == 404
    )
    shares = f"/api/credentials/{requestable.pk}/shares/"
    client_for(owner).post(shares, {"user": "member", "permissions": ["use"]}, format="json")
    before = written()
    held = client_for(member).post("/api/access-requests/", {**body, "credential": str(requestable.pk)}, format="json")
    assert held.status_code == 400 and list(held.json()["errors"]) == ["permission"]
    assert written() == before


def test_self_approval_denial_reasons_cancel_and_expiry(owner, member, requestable, clock, settings):
    request_id = (
        client_for(member)
        .post(
            "/api/access-requests/",
            {"credential": str(requestable.pk), "permission": "view", "hours": 1, "reason": "audit"},
            format="json",
        )
        .json()["id"]
    )
    before = written()
    assert client_for(member).post(f"/api/access-requests/{request_id}/approve/").status_code == 403
    no_reason = client_for(owner).post(f"/api/access-requests/{request_id}/deny/", {}, format="json")
    assert no_reason.status_code == 400 and list(no_reason.json()["errors"]) == ["reason"]
    assert client_for(owner).post(f"/api/access-requests/{request_id}/cancel/").status_code == 403
    assert client_for(make_user("nobody")).get(f"/api/access-requests/{request_id}/").status_code == 404
    assert written() == before
    clock.move_to(START + timedelta(hours=settings.ACCESS_REQUEST_TTL_HOURS, seconds=1))
    late = client_for(owner).post(f"/api/access-requests/{request_id}/approve/")
    assert late.status_code == 409 and "expired" in late.json()["detail"]
    assert written() == before
    clock.move_to(START)
    cancelled = client_for(member).post(f"/api/access-requests/{request_id}/cancel/")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert (
        client_for(owner).post(f"/api/access-requests/{request_id}/deny/", {"reason": "x"}, format="json").status_code
        == 409
    )


def test_requestable_settings_refuse_bad_input(owner, credential):
    url = f"/api/credentials/{credential.pk}/requestable/"
    for body, field in (
        ({"group": "no-such-group"}, "group"),
        ({"everyone": "yes"}, "everyone"),
        ({"everyone": True, "group": "contractors"}, "group"),
        ({"max_access_hours": 0}, "max_access_hours"),
        ({"max_access_hours": 1000}, "max_access_hours"),
    ):
        Group.objects.get_or_create(name="contractors")
        response = client_for(owner).put(url, body, format="json")
        assert response.status_code == 400 and field in response.json()["errors"], (body, response.json())


def ask(user, credential, permission: str = "use", hours: int = 4) -> str:
    body = {"credential": str(credential.pk), "permission": permission, "hours": hours, "reason": "on call"}
    response = client_for(user).post("/api/access-requests/", body, format="json")
    assert response.status_code == 201, response.json()
    return response.json()["id"]


def test_sharing_again_with_another_end_is_an_audited_change(owner, credential, clock):
    make_user("friend")
    url = f"/api/credentials/{credential.pk}/shares/"

    def share(end: str | None) -> dict:
        response = client_for(owner).post(
            url, {"user": "friend", "permissions": ["use"], "expires_at": end}, format="json"
        )
        assert response.status_code == 200, response.json()
        return response.json()["expires_at"]

    def changes() -> int:
        return AuditEvent.objects.filter(credential=credential, action="share_changed").count()

    assert share("2026-12-01T11:00:00Z") == {"use": "2026-12-01T11:00:00Z"}
    assert share("2026-12-01T12:00:00+02:00") == {"use": "2026-12-01T10:00:00Z"} and changes() == 1
    assert share(None) == {"use": None} and changes() == 2
    before = written()
    assert share(None) == {"use": None} and written() == before  # the same end again: nothing to record
    assert client_for(owner).get(url).json()[0]["expires_at"] == {"use": None}


def test_a_global_cap_holds_where_the_credential_sets_none(owner, member, requestable):
    url = f"/api/credentials/{requestable.pk}/requestable/"
    assert client_for(owner).put(url, {"group": "contractors", "max_access_hours": None}, format="json").json() == {
        "group": "contractors",
        "everyone": False,
        "max_access_hours": None,
        "effective_max_hours": 168,
    }
    assert client_for(owner).get(url).json()["effective_max_hours"] == 168
    # The member may discover the credential, and still learns nothing else of it.
    assert client_for(member).get(url).status_code == 404
    assert client_for(member).get(f"/api/credentials/{requestable.pk}/").status_code == 404
    before = written()
    body = {"credential": str(requestable.pk), "permission": "use", "hours": 169, "reason": "a long week"}
    over = client_for(member).post("/api/access-requests/", body, format="json")
    assert over.status_code == 400 and list(over.json()["errors"]) == ["hours"]
    assert written() == before
    ask(member, requestable, hours=168)


def test_deny_with_a_reason_tells_the_requester_and_grants_nothing(owner, member, requestable):
    request_id = ask(member, requestable)
    events = AuditEvent.objects.count()
    denied = client_for(owner).post(
        f"/api/access-requests/{request_id}/deny/", {"reason": "Not this week"}, format="json"
    )
    assert denied.status_code == 200
    assert {key: denied.json()[key] for key in ("status", "decision_reason", "decided_by", "grant_expires_at")} == {
        "status": "denied",
        "decision_reason": "Not this week",
        "decided_by": "owner",
        "grant_expires_at": None,
    }
    seen = client_for(member).get(f"/api/access-requests/{request_id}/").json()
    assert seen["status"] == "denied" and seen["decision_reason"] == "Not this week"
    assert AuditEvent.objects.count() == events + 1
    assert AuditEvent.objects.filter(credential=requestable, action="access_request_denied").count() == 1
    assert client_for(member).get(f"/api/credentials/{requestable.pk}/").status_code == 404
    review = "/api/access-requests/review/"
    assert client_for(owner).get(review).json()["results"] == []
    assert [r["id"] for r in client_for(owner).get(review, {"status": "all"}).json()["results"]] == [request_id]
    bad = client_for(owner).get(review, {"status": "denied"})
    assert bad.status_code == 400 and list(bad.json()["errors"]) == ["status"]


@pytest.mark.parametrize(
    ("step", "actor", "body"),
    [("approve", "owner", None), ("deny", "owner", {"reason": "late"}), ("cancel", "member", None)],
)
def test_acting_on_an_expired_request_is_409_and_writes_nothing(
    owner, member, requestable, clock, settings, step, actor, body
):
    request_id = ask(member, requestable)
    clock.move_to(START + timedelta(hours=settings.ACCESS_REQUEST_TTL_HOURS, seconds=1))
    before = written()
    user = {"owner": owner, "member": member}[actor]
    response = client_for(user).post(f"/api/access-requests/{request_id}/{step}/", body, format="json")
    assert response.status_code == 409 and response.json()["code"] == "conflict"
    assert written() == before


@pytest.mark.parametrize(
    ("step", "body", "field"),
    [
        ("deny", {"reason": "no", "extra": 1}, "extra"),
        ("deny", {"reason": 5}, "reason"),
        ("deny", [], "non_field_errors"),
    ],
)
def test_bad_decisions_are_refused_by_field_and_write_nothing(owner, member, requestable, step, body, field):
    request_id = ask(member, requestable)
    before = written()
    response = client_for(owner).post(f"/api/access-requests/{request_id}/{step}/", body, format="json")
    assert response.status_code == 400 and field in response.json()["errors"], response.json()
    assert written() == before
    assert AccessRequest.objects.get(pk=request_id).status == "pending"


def test_an_unknown_or_malformed_request_id_is_404(owner):
    for request_id in ("00000000-0000-0000-0000-000000000000", "not-a-uuid"):
        for step in ("approve", "cancel"):
            assert client_for(owner).post(f"/api/access-requests/{request_id}/{step}/").status_code == 404
        assert client_for(owner).get(f"/api/access-requests/{request_id}/").status_code == 404
