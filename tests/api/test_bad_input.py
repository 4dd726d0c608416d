"""Bad input to the JSON API: a clear 4xx that names the field, and nothing written (ARCHITECTURE.md, invariant 6)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.contrib.auth.models import Group
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from audit.models import AuditEvent
from config.api.pagination import PageNumberPagination
from credentials.models import Credential, CredentialGroupPermission, CredentialUserPermission
from credentials.sharing import credential_share
from tests.costly_input import PASSPHRASE, no_key_work, openssh_key, pkcs8_pbkdf2_key, pkcs8_scrypt_key
from tests.factories import make_credential, valid_fields

CREATE = "/api/credentials/"
GOOD = {"type": "redis", "name": "cache", "fields": valid_fields("redis")}


def _state() -> dict[str, Any]:
    return {
        "credentials": list(
            Credential.objects.order_by("pk").values_list("pk", "version", "updated_at", "name", "ciphertext")
        ),
        "user shares": sorted(CredentialUserPermission.objects.values_list("user_id", "permission_id")),
        "group shares": sorted(CredentialGroupPermission.objects.values_list("group_id", "permission_id")),
        "audit events": AuditEvent.objects.count(),
    }


@contextmanager
def nothing_written() -> Iterator[None]:
    before = _state()
    yield
    assert _state() == before


def _field_messages(response: Any, *path: str) -> list[str]:
    """The messages at ``errors[path...]`` of a 400, checked to be a non-empty list of text."""
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "invalid" and body["detail"] == "Invalid input."
    node = body["errors"]
    for key in path:
        assert key in node, f"no messages for {path!r} in {body['errors']!r}"
        node = node[key]
    assert isinstance(node, list) and node and all(isinstance(m, str) and m.strip() for m in node), node
    return node


@pytest.fixture
def credential(owner):
    return make_credential(owner, "redis")


@pytest.fixture
def team(owner):
    group = Group.objects.create(name="ops")
    owner.groups.add(group)
    return group


# --- Creating -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "path"),
    [
        pytest.param({"name": 12}, ("name",), id="name-as-number"),
        pytest.param({"name": True}, ("name",), id="name-as-boolean"),
        pytest.param({"tags": "a,b"}, ("tags",), id="tags-as-string"),
        pytest.param({"tags": [1]}, ("tags", "0"), id="tag-as-number"),
        pytest.param({"fields": ["host"]}, ("fields",), id="fields-as-list"),
        pytest.param({"fields": None}, ("fields",), id="fields-null"),
        pytest.param({"expires_at": "soon"}, ("expires_at",), id="expires-at-garbage"),
        pytest.param({"fields": {**GOOD["fields"], "tls": "yes"}}, ("fields", "tls"), id="boolean-field-yes"),
        pytest.param({"fields": {**GOOD["fields"], "port": "6379"}}, ("fields", "port"), id="number-field-as-text"),
        pytest.param({"fields": {**GOOD["fields"], "host": {"a": 1}}}, ("fields", "host"), id="text-field-as-object"),
        pytest.param({"type": "no_such_type"}, ("type",), id="unknown-type"),
        pytest.param({"type": 7}, ("type",), id="type-as-number"),
        pytest.param({"colour": "red"}, ("colour",), id="unknown-attribute"),
        pytest.param({"fields": {**GOOD["fields"], "colour": "red"}}, ("fields", "colour"), id="unknown-field"),
        pytest.param({"name": "x" * 201}, ("name",), id="name-too-long"),
        pytest.param({"fields": {**GOOD["fields"], "host": "h" * 254}}, ("fields", "host"), id="field-too-long"),
        pytest.param({"tags": ["t"] * 21}, ("tags",), id="too-many-tags"),
        pytest.param({"name": "a\x00b"}, ("name",), id="null-byte-in-name"),
        pytest.param({"description": "a\x00b"}, ("description",), id="null-byte-in-description"),
        pytest.param({"fields": {**GOOD["fields"], "host": "a\x00b"}}, ("fields", "host"), id="null-byte-in-field"),
        pytest.param({"fields": {**GOOD["fields"], "password": "a\x00"}}, ("fields", "password"), id="null-in-secret"),
        pytest.param({"environment": "Prod Env!"}, ("environment",), id="bad-environment"),
        pytest.param({"allowed_hosts": ["not a host!"]}, ("allowed_hosts",), id="bad-allowed-host"),
        pytest.param({"team": "nobody"}, ("team",), id="unknown-team"),
        pytest.param({"team": ""}, ("team",), id="blank-team"),  # not read as "no team"
        pytest.param({"team": 7}, ("team",), id="team-as-number"),
        pytest.param({"team": "o\x00ps"}, ("team",), id="null-byte-in-team"),  # refused before any query
        pytest.param({"team": "t" * 151}, ("team",), id="team-too-long"),
    ],
)
def test_bad_create_names_the_field_and_writes_nothing(api_client, change, path):
    with nothing_written():
        response = api_client.post(CREATE, {**GOOD, **change}, format="json")
        _field_messages(response, *path)


def test_secret_values_are_not_echoed_in_errors(api_client):
    body = {**GOOD, "fields": {**GOOD["fields"], "host": "h" * 254, "password": "hunter2-\x00"}}
    with nothing_written():
        response = api_client.post(CREATE, body, format="json")
    _field_messages(response, "fields", "password")
    assert "hunter2" not in response.content.decode()


@pytest.mark.parametrize(
    ("body", "paths"),
    [
        pytest.param({}, [("type",), ("name",), ("fields",)], id="empty-object"),
        pytest.param({"name": "x"}, [("type",), ("fields",)], id="no-type-no-fields"),
        pytest.param(
            {"type": "redis", "name": "x", "fields": {}},
            [("fields", "host"), ("fields", "password")],
            id="required-fields-of-the-type",
        ),
    ],
)
def test_missing_required_input_is_named(api_client, body, paths):
    with nothing_written():
        response = api_client.post(CREATE, body, format="json")
    for path in paths:
        _field_messages(response, *path)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(b'{"name":', "JSON parse error", id="malformed"),
        pytest.param(b'{"name": NaN}', "JSON parse error", id="nan"),
        pytest.param(b'{"name": "\xff"}', "JSON parse error", id="not-utf-8"),
        pytest.param(b"[" * 100_000 + b"]" * 100_000, "nested too deeply", id="nested-too-deeply"),
    ],
)
def test_unparsable_json_is_a_parse_error(api_client, raw, expected):
    with nothing_written():
        response = api_client.post(CREATE, raw, content_type="application/json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "parse_error" and expected in body["detail"]


def test_empty_body_names_the_required_fields(api_client):
    with nothing_written():
        response = api_client.post(CREATE, b"", content_type="application/json")
    for name in ("type", "name", "fields"):
        _field_messages(response, name)


@pytest.mark.parametrize("raw", [b"[1, 2]", b'"text"', b"12", b"null"])
def test_a_body_that_is_not_an_object_is_refused(api_client, raw):
    with nothing_written():
        response = api_client.post(CREATE, raw, content_type="application/json")
    _field_messages(response, "non_field_errors")


@pytest.mark.parametrize(
    ("raw", "content_type"),
    [
        pytest.param(b"type=redis&name=cache", "application/x-www-form-urlencoded", id="form"),
        pytest.param(json.dumps(GOOD).encode(), "text/plain", id="text-plain"),
        pytest.param(
            b'--b\r\nContent-Disposition: form-data; name="name"\r\n\r\nx\r\n--b--\r\n',
            "multipart/form-data; boundary=b",
            id="multipart",
        ),
    ],
)
def test_a_body_that_is_not_json_is_415(api_client, raw, content_type):
    with nothing_written():
        response = api_client.post(CREATE, raw, content_type=content_type)
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"


def test_a_body_over_the_limit_is_413_in_json(api_client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1_000
    with nothing_written():
        response = api_client.post(CREATE, {**GOOD, "description": "x" * 2_000}, format="json")
    assert response.status_code == 413
    assert response.json() == {"detail": "The body is larger than 1000 bytes.", "code": "too_large"}


# --- Changing ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "path"),
    [
        pytest.param({"version": "one"}, ("version",), id="version-as-string"),
        pytest.param({"version": True}, ("version",), id="version-as-boolean"),
        pytest.param({"version": 0}, ("version",), id="version-zero"),
        pytest.param({"version": 1, "type": "github_pat"}, ("type",), id="type-cannot-change"),
        pytest.param({"version": 1, "owner": "stranger"}, ("owner",), id="unknown-attribute"),
        pytest.param({"version": 1, "is_active": "yes"}, ("is_active",), id="boolean-as-yes"),
        pytest.param({"version": 1, "name": None}, ("name",), id="name-null"),
        pytest.param({"version": 1, "fields": []}, ("fields",), id="fields-as-list"),
        pytest.param({"version": 1, "fields": {"tls": "yes"}}, ("fields", "tls"), id="boolean-field-yes"),
        pytest.param({"version": 1, "fields": {"colour": "red"}}, ("fields", "colour"), id="unknown-field"),
        pytest.param({"version": 1, "fields": {"host": "h" * 254}}, ("fields", "host"), id="field-too-long"),
        pytest.param({"version": 1, "expires_at": "tomorrow"}, ("expires_at",), id="expires-at-garbage"),
        pytest.param({"version": 1, "tags": "a"}, ("tags",), id="tags-as-string"),
    ],
)
def test_bad_patch_names_the_field_and_writes_nothing(api_client, credential, body, path):
    with nothing_written():
        response = api_client.patch(f"/api/credentials/{credential.pk}/", body, format="json")
        _field_messages(response, *path)


def test_put_without_its_required_attributes_names_them(api_client, credential):
    with nothing_written():
        response = api_client.put(f"/api/credentials/{credential.pk}/", {"version": 1}, format="json")
    for name in ("name", "environment", "fields"):
        _field_messages(response, name)


@pytest.mark.parametrize("header", ["3", "abc", "*", '"-1"', '"1", "2"', '"99999999999"'])
def test_an_if_match_that_is_not_an_etag_is_named(api_client, credential, header):
    with nothing_written():
        response = api_client.patch(
            f"/api/credentials/{credential.pk}/", {"description": "x"}, format="json", HTTP_IF_MATCH=header
        )
    _field_messages(response, "If-Match")


def test_a_change_without_a_version_is_428(api_client, credential):
    with nothing_written():
        response = api_client.patch(f"/api/credentials/{credential.pk}/", {"description": "x"}, format="json")
    assert response.status_code == 428
    assert response.json()["code"] == "precondition_required"


@pytest.mark.parametrize(
    ("method", "raw", "status", "code"),
    [
        ("patch", b"[]", 400, "invalid"),
        ("put", b"[]", 400, "invalid"),
        ("patch", b'{"version":', 400, "parse_error"),
        ("put", b'{"version":', 400, "parse_error"),
        ("put", b"", 400, "invalid"),  # name, environment and fields are required
        ("patch", b"", 428, "precondition_required"),  # nothing to check first but the version
    ],
)
def test_a_change_with_an_unusable_body_is_refused(api_client, credential, method, raw, status, code):
    url = f"/api/credentials/{credential.pk}/"
    with nothing_written():
        response = getattr(api_client, method)(url, raw, content_type="application/json")
    assert response.status_code == status, response.content
    assert response.json()["code"] == code


# --- Paths and queries --------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["", "audit-logs/", "usage/", "shares/"])
@pytest.mark.parametrize("bad_id", ["not-a-uuid", "1", "00000000-0000-0000-0000-00000000000g", "a%00b"])
def test_an_id_that_is_not_a_uuid_is_404(api_client, suffix, bad_id):
    with nothing_written():
        response = api_client.get(f"/api/credentials/{bad_id}/{suffix}")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ("expiring_within=soon", "expiring_within"),
        ("expiring_within=-1", "expiring_within"),
        ("type=", "type"),
        ("search=a%00b", "search"),
        ("tag=" + "t" * 51, "tag"),
        ("page=0", "page"),
        ("page=first", "page"),
        ("page_size=0", "page_size"),
        ("page_size=ten", "page_size"),
        ("page_size=-5", "page_size"),
    ],
)
def test_a_bad_list_query_names_the_parameter(api_client, credential, query, name):
    _field_messages(api_client.get(f"{CREATE}?{query}"), name)


def test_a_page_past_the_last_is_404(api_client, credential):
    response = api_client.get(f"{CREATE}?page=2")
    assert response.status_code == 404
    assert "No page 2" in response.json()["detail"]


def test_a_page_size_over_the_maximum_gets_the_maximum(api_client, credential):
    # DRF caps the size quietly; documented in the schema's description of page_size.
    response = api_client.get(f"{CREATE}?page_size=5000")
    assert response.status_code == 200 and response.json()["count"] == 1
    request = Request(APIRequestFactory().get(CREATE, {"page_size": "5000"}))
    assert PageNumberPagination().get_page_size(request) == 1000


# --- Costs the input would choose: each has a ceiling, checked before the work -------------------

_BEYOND_EVERY_PAGE = ["9223372036854775807", "99999999999999999999999", "1" + "0" * 5000, "1000001"]


@pytest.mark.parametrize("page", _BEYOND_EVERY_PAGE, ids=["int64-max", "23-digits", "5001-digits", "ceiling+1"])
@pytest.mark.parametrize("route", ["credentials", "plugins", "audit-logs"])
def test_a_page_past_every_limit_is_404_not_500(api_client, postgres_only, credential, route, page):
    path = {"credentials": CREATE, "plugins": "/api/plugins/", "audit-logs": f"{CREATE}{credential.pk}/audit-logs/"}
    response = api_client.get(f"{path[route]}?page={page}")
    assert response.status_code == 404, response.content
    body = response.json()
    assert body["code"] == "not_found" and "1000000" in body["detail"]
    assert page[:30] not in body["detail"]


@pytest.mark.parametrize("size", ["9223372036854775807", "9" * 5000])
def test_a_page_size_past_every_limit_gets_the_maximum(api_client, postgres_only, credential, size):
    response = api_client.get(f"{CREATE}?page_size={size}")
    assert response.status_code == 200 and response.json()["count"] == 1


@pytest.mark.parametrize("days", ["9223372036854775807", "9" * 5000])
def test_expiring_within_past_its_limit_is_named(api_client, credential, days):
    _field_messages(api_client.get(f"{CREATE}?expiring_within={days}"), "expiring_within")


@pytest.mark.parametrize(
    ("make_key", "cost"),
    [
        pytest.param(lambda: pkcs8_pbkdf2_key(claimed_iterations=10_000_000), "10000000 PBKDF2", id="pkcs8-pbkdf2"),
        pytest.param(lambda: openssh_key(rounds=6000), "6000 bcrypt rounds", id="openssh-bcrypt"),
        pytest.param(lambda: pkcs8_scrypt_key(n=2**20), "1024 MiB", id="pkcs8-scrypt"),
    ],
)
def test_a_key_whose_kdf_costs_too_much_is_refused_by_field_before_derivation(api_client, make_key, cost):
    fields = {**valid_fields("ssh_key"), "private_key": make_key(), "passphrase": PASSPHRASE}
    with nothing_written(), no_key_work():
        response = api_client.post(CREATE, {"type": "ssh_key", "name": "deploy", "fields": fields}, format="json")
    (message,) = _field_messages(response, "fields", "private_key")
    assert cost in message and "at most" in message


@pytest.mark.parametrize("where", ["fields", "tags", "name", "top"])
def test_a_deeply_nested_body_is_400_not_500(api_client, where):
    deep: Any = "x"
    for _ in range(900):
        deep = [deep]
    body = {**GOOD, where: deep} if where != "top" else deep
    with nothing_written():
        response = api_client.post(CREATE, json.dumps(body), content_type="application/json")
    assert response.status_code == 400, response.content


def test_a_body_nested_past_the_ceiling_is_refused_as_it_is_parsed(api_client):
    fields: Any = {"host": "cache.example.com"}
    for _ in range(31):
        fields = {"a": fields}
    with nothing_written():
        response = api_client.post(CREATE, {**GOOD, "fields": fields}, format="json")  # 33 deep
    assert response.status_code == 400
    assert response.json() == {
        "detail": "JSON parse error - the document is nested too deeply (more than 32 levels).",
        "code": "parse_error",
    }


# --- Sharing ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "path"),
    [
        pytest.param({"user": "ghost", "permissions": ["use"]}, ("user",), id="unknown-user"),
        pytest.param({"group": "ghosts", "permissions": ["use"]}, ("group",), id="unknown-group"),
        pytest.param(
            {"user": "stranger", "group": "ops", "permissions": ["use"]},
            ("non_field_errors",),
            id="both-user-and-group",
        ),
        pytest.param({"permissions": ["use"]}, ("non_field_errors",), id="no-grantee"),
        pytest.param({"user": "stranger", "permissions": ["fly"]}, ("permissions", "0"), id="unknown-permission"),
        pytest.param({"user": "stranger", "permissions": ["delete"]}, ("permissions", "0"), id="delete-permission"),
        pytest.param({"user": "stranger", "permissions": ["share"]}, ("permissions", "0"), id="share-permission"),
        pytest.param({"user": "stranger", "permissions": "use"}, ("permissions",), id="permissions-as-string"),
        pytest.param({"user": "stranger", "permissions": []}, ("permissions",), id="no-permissions"),
        pytest.param({"user": "stranger"}, ("permissions",), id="permissions-missing"),
        pytest.param({"user": 5, "permissions": ["use"]}, ("user",), id="user-as-number"),
        pytest.param({"group": "o\x00ps", "permissions": ["use"]}, ("group",), id="null-byte-in-group"),
        pytest.param({"user": "owner", "permissions": ["use"]}, ("user",), id="the-owner"),
        pytest.param({"user": "stranger", "permissions": ["use"], "until": "2030"}, ("until",), id="unknown-attribute"),
    ],
)
def test_a_bad_share_names_the_field_and_writes_nothing(api_client, credential, stranger, team, body, path):
    with nothing_written():
        response = api_client.post(f"/api/credentials/{credential.pk}/shares/", body, format="json")
        _field_messages(response, *path)


@pytest.mark.parametrize(
    ("query", "path"),
    [
        pytest.param("", ("non_field_errors",), id="no-grantee"),
        pytest.param("?permissions=use", ("non_field_errors",), id="permissions-but-no-grantee"),
        pytest.param("?user=stranger&group=ops", ("non_field_errors",), id="both-user-and-group"),
        pytest.param("?user=", ("user",), id="blank-user"),
        pytest.param("?user=ghost", ("user",), id="unknown-user"),
        pytest.param("?group=ghosts", ("group",), id="unknown-group"),
        pytest.param("?user=stranger&permissions=use,fly", ("permissions",), id="unknown-permission"),
        pytest.param("?user=stranger&permissions=delete", ("permissions",), id="delete-permission"),
        pytest.param("?user=stranger&permissions=,", ("permissions",), id="empty-permission-names"),
        pytest.param("?user=stranger&permissions=", ("permissions",), id="blank-permissions"),
    ],
)
def test_a_bad_unshare_names_the_field_and_writes_nothing(api_client, credential, owner, stranger, team, query, path):
    credential_share(actor=owner, credential_id=credential.pk, permissions=["use", "view"], user=stranger)
    with nothing_written():
        response = api_client.delete(f"/api/credentials/{credential.pk}/shares/{query}")
        _field_messages(response, *path)


# --- Tokens -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "path"),
    [
        pytest.param({"username": 1, "password": "x"}, ("username",), id="username-as-number"),
        pytest.param({"username": "owner"}, ("password",), id="no-password"),
        pytest.param({"username": "owner", "password": "x", "otp": "1"}, ("otp",), id="unknown-attribute"),
    ],
)
def test_a_bad_token_request_names_the_field(client, owner, body, path):
    response = client.post("/api/auth/token/", body, content_type="application/json")
    _field_messages(response, *path)


def test_a_form_encoded_token_request_is_415(client, owner):
    response = client.post(
        "/api/auth/token/", b"username=owner&password=x", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"
