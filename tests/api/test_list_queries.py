"""The list endpoint costs the same SQL whatever the page size, and never decrypts a secret."""

from unittest import mock

import pytest
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from knox.models import AuthToken
from rest_framework.test import APIClient

from credentials.keys.ring import KeyRing
from credentials.models import Credential, CredentialGroupPermission, CredentialUserPermission
from credentials.sharing import credential_share
from tests.factories import make_credential, make_user

TOTAL = 1000


@pytest.fixture
def world(db):
    """1,000 credentials a reader reaches through direct shares, a group share and a team, in equal parts."""
    owner, reader = make_user("owner"), make_user("reader")
    team, readers = Group.objects.create(name="team"), Group.objects.create(name="readers")
    team.user_set.add(owner, reader)
    readers.user_set.add(reader)
    slugs = ("github_pat", "postgres", "redis", "http_bearer")
    credentials = [
        make_credential(owner, slugs[i % len(slugs)], name=f"c{i:04d}", team=team if i % 3 == 2 else None)
        for i in range(TOTAL)
    ]
    use = Permission.objects.get(codename="use_credential")
    view = Permission.objects.get(codename="view_credential")
    CredentialUserPermission.objects.bulk_create(
        CredentialUserPermission(user=reader, permission=permission, content_object=c)
        for c in credentials[0::3]
        for permission in (use, view)
    )
    CredentialGroupPermission.objects.bulk_create(
        CredentialGroupPermission(group=readers, permission=use, content_object=c) for c in credentials[1::3]
    )
    return owner, reader


def list_queries(client: APIClient, page_size: int) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(f"/api/credentials/?page_size={page_size}")
    assert response.status_code == 200
    assert len(response.json()["results"]) == page_size
    return [query["sql"] for query in captured.captured_queries]


def token_client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {AuthToken.objects.create(user)[1]}")
    return client


def session_client(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


@pytest.mark.parametrize("who", ["owner", "reader"])
@pytest.mark.parametrize("make_client", [token_client, session_client], ids=["token", "session"])
def test_the_same_queries_for_every_page_size(world, who, make_client):
    owner, reader = world
    client = make_client(owner if who == "owner" else reader)
    list_queries(client, 10)  # the credential-type cache fills once per process, as in production
    with mock.patch.object(KeyRing, "open", side_effect=AssertionError("the list decrypted a secret")):
        counts = {size: len(list_queries(client, size)) for size in (10, 100, 1000)}
    assert counts[10] == counts[100] == counts[1000], counts


def test_the_reader_sees_every_route_with_what_it_allows(world):
    _, reader = world
    rows = session_client(reader).get("/api/credentials/?page_size=1000").json()["results"]
    assert len(rows) == TOTAL == Credential.objects.count()
    by_route = {row["name"]: row["permissions"] for row in rows}
    assert by_route["c0000"] == ["use", "view"]  # a direct share of use and view
    assert by_route["c0001"] == ["use"]  # a group share of use
    assert by_route["c0002"] == ["use"]  # team membership
    assert rows[0]["fields"] is not None and rows[1]["fields"] is None


def test_pages_of_credentials_with_the_same_name_never_overlap(db):
    viewer = make_user("many-owner")
    for environment in ("a", "b"):
        for _ in range(3):
            owner = make_user()
            credential = make_credential(owner, name="same", environment=environment)
            credential_share(actor=owner, credential_id=credential.pk, permissions=["view"], user=viewer)
    client = APIClient()
    client.force_authenticate(viewer)
    seen = []
    for page in (1, 2, 3):
        body = client.get("/api/credentials/", {"page_size": 2, "page": page}).json()
        assert body["count"] == 6
        seen += [row["id"] for row in body["results"]]
    assert len(seen) == len(set(seen)) == 6
