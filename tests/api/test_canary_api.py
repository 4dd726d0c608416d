"""The canary through the API: every response (bodies and headers, errors and OPTIONS) is searched for it.

A credential of every built-in type is created through the API with a unique canary in each
secret field, then listed, read, changed (with a new canary, and with mistakes that send
canaries back), shared, unshared, rolled back to the first canary (a version destroyed) and
audited. No response and no log line may hold any of the canaries in any form.
"""

import uuid

import pytest
from rest_framework.test import APIClient

from tests.canary import Haystack, canary_fields
from tests.factories import BUILTIN_SLUGS, PASSWORD, make_user


class RecordingClient:
    """An APIClient whose every response goes into the haystack."""

    def __init__(self, client: APIClient, haystack: Haystack):
        self.client = client
        self.haystack = haystack

    def __call__(self, method: str, url: str, data=None, **extra):
        response = getattr(self.client, method)(url, data, format="json", **extra)
        self.haystack.add(f"{method.upper()} {url} body", response.content.decode())
        self.haystack.add(f"{method.upper()} {url} headers", dict(response.headers))
        return response


@pytest.mark.django_db
def test_no_api_response_holds_a_secret(caplog):
    owner, friend = make_user("owner"), make_user("friend")
    haystack = Haystack()
    api = RecordingClient(APIClient(), haystack)
    api.client.force_authenticate(owner)
    secrets: set[str] = set()
    ids = {}

    for slug in BUILTIN_SLUGS:
        canary = f"CANARY-{uuid.uuid4().hex}"
        fields, planted = canary_fields(slug, canary)
        secrets |= planted
        response = api("post", "/api/credentials/", {"type": slug, "name": f"canary {slug}", "fields": fields})
        assert response.status_code == 201, response.content
        ids[slug] = response.json()["id"]
        # A create refused for another reason, with the secrets in the body, echoes none of them.
        refused = api("post", "/api/credentials/", {"type": slug, "name": "", "fields": fields, "tags": "x"})
        assert refused.status_code == 400

    api("get", "/api/credentials/")
    api("options", "/api/credentials/")
    api("get", "/api/credential-types/")
    for slug, credential_id in ids.items():
        base = f"/api/credentials/{credential_id}/"
        detail = api("get", base)
        assert detail.json()["secrets_set"]
        api("options", base)
        new_canary = f"CANARY-{uuid.uuid4().hex}"
        new_fields, planted = canary_fields(slug, new_canary)
        secrets |= planted
        changed = api("patch", base, {"fields": new_fields, "description": "rotated", "version": 1})
        assert changed.status_code == 200, changed.content
        # Stale, missing-version and invalid updates, each carrying a secret: none is echoed.
        assert api("patch", base, {"fields": new_fields, "version": 1}).status_code == 409
        assert api("patch", base, {"fields": new_fields}, HTTP_IF_MATCH='"1"').status_code == 412
        assert api("patch", base, {"fields": new_fields}).status_code == 428
        assert api("put", base, {"fields": {**new_fields, "nope": new_canary}, "version": 2}).status_code == 400
        assert api("post", f"{base}shares/", {"user": "friend", "permissions": ["use", "view"]}).status_code == 200
        api("get", f"{base}shares/")
        api("get", f"{base}audit-logs/")
        api("get", f"{base}usage/")
        api("options", f"{base}shares/")
        assert api("delete", f"{base}shares/?user=friend&permissions=view").status_code == 200
        # The history: listed, the first canaries restored, the second's version destroyed, each answer searched.
        api("get", f"{base}versions/")
        current = api("get", base).json()["version"]
        rolled = api("post", f"{base}versions/1/rollback/", {"version": current})
        assert rolled.status_code == 200, rolled.content
        assert api("delete", f"{base}versions/2/").status_code == 204
        assert api("post", f"{base}versions/2/rollback/", {"version": current + 1}).status_code == 404
        assert api("post", f"{base}versions/3/rollback/", {"version": current + 1}).status_code == 400
        api("get", f"{base}versions/")

    # What the friend, who may only use them, sees.
    friend_api = RecordingClient(APIClient(), haystack)
    friend_api.client.force_authenticate(friend)
    friend_api("get", "/api/credentials/")
    for credential_id in ids.values():
        friend_api("get", f"/api/credentials/{credential_id}/")
        friend_api("patch", f"/api/credentials/{credential_id}/", {"description": "no", "version": 2})
        assert friend_api("get", f"/api/credentials/{credential_id}/versions/").status_code == 403
        rollback = friend_api("post", f"/api/credentials/{credential_id}/versions/1/rollback/", {"version": 4})
        assert rollback.status_code == 403

    # A failed login whose password is a canary is not echoed either.
    login_canary = f"CANARY-{uuid.uuid4().hex}"
    secrets.add(login_canary)
    anonymous = RecordingClient(APIClient(), haystack)
    assert anonymous("post", "/api/auth/token/", {"username": "owner", "password": login_canary}).status_code == 400
    assert anonymous("post", "/api/auth/token/", {"username": "owner", "password": PASSWORD}).status_code == 200

    for credential_id in ids.values():
        assert api("delete", f"/api/credentials/{credential_id}/").status_code == 204
        api("get", f"/api/credentials/{credential_id}/")

    for record in caplog.records:
        haystack.add(f"log {record.name}", record.getMessage())
    assert len(haystack.pieces) > 200, "too few responses were searched"
    assert any("canary github_pat" in text for _, text in haystack.pieces), "the search is blind"
    assert haystack.leaks(secrets) == []
    assert any('"restored_from":1' in text for _, text in haystack.pieces), "the history was not searched"
