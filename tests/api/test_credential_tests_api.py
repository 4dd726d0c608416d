"""POST /api/credentials/{id}/test/ and the re-test switch, through the API (tasks in-process here)."""

import pytest
from rest_framework.test import APIClient

from credentials.services import credential_create
from tests.factories import make_credential
from tests.integration.servers import free_port


@pytest.fixture
def api(owner) -> APIClient:
    client = APIClient()
    client.force_authenticate(owner)
    return client


def test_a_test_is_accepted_then_its_result_shows_on_the_detail(
    api, owner, eager_tasks, django_capture_on_commit_callbacks
):
    port = free_port()
    fields = {"host": "127.0.0.1", "port": port, "database": "d", "username": "u", "password": "pw-api-1"}
    credential = credential_create(actor=owner, type_slug="postgres", name="db", fields=fields)

    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(f"/api/credentials/{credential.pk}/test/")

    assert response.status_code == 202
    assert response.json()["test_status"] == "running"
    detail = api.get(response["Location"]).json()
    assert detail["test_status"] == "failed"
    assert detail["test_message"].startswith(f"PostgreSQL at 127.0.0.1:{port} refused the connection")
    assert (detail["test_failures"], detail["test_flagged"], detail["retest_daily"]) == (1, False, False)
    assert detail["last_tested"] is not None


def test_a_body_is_ignored_and_no_destination_can_be_given(api, owner):
    credential = make_credential(owner)

    response = api.post(f"/api/credentials/{credential.pk}/test/", {"host": "evil.example"}, format="json")

    assert response.status_code == 202


def test_the_retest_switch_is_set_on_create_and_update(api, owner):
    created = api.post(
        "/api/credentials/",
        {"type": "github_pat", "name": "nightly", "fields": {"token": "t-123456"}, "retest_daily": True},
        format="json",
    )
    assert created.status_code == 201 and created.json()["retest_daily"] is True
    url = f"/api/credentials/{created.json()['id']}/"

    bad = api.patch(url, {"version": 1, "retest_daily": "yes"}, format="json")
    assert bad.status_code == 400
    assert bad.json()["errors"] == {"retest_daily": ["Must be a valid boolean."]}

    off = api.patch(url, {"version": 1, "retest_daily": False}, format="json")
    assert off.status_code == 200 and off.json()["retest_daily"] is False
