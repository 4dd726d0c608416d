"""The API against its own OpenAPI schema: no 5xx, and every answer documented and shaped as documented.

Schemathesis loads ``/api/schema/`` from the in-process WSGI application and sends its requests
the same way, so they share the test's database connection and transaction. Generated examples
run each in a savepoint that is rolled back, so a DELETE or a share in one does not change the
next. Generation is bounded and seeded: the same requests every run.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
import zlib
from typing import Any

import hypothesis
import pytest
import schemathesis
from django.contrib.staticfiles import finders
from django.core.cache import cache
from django.core.management import call_command
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, transaction
from django.test import override_settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from credentials.door import credential_reveal
from credentials.sharing import credential_share
from tests.factories import PASSWORD, make_credential, make_user

SEED = 20_240_611
EXAMPLES_PER_OPERATION = 30
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,  # a request that breaks the schema gets a 4xx
]

# Loaded once, at collection, from the application itself. (``schemathesis.pytest.from_fixture``
# would load it inside a test, but schemathesis 4.32 sets ``Node._nodeid``, which pytest 9 lacks.)
with override_settings(ALLOWED_HOSTS=["localhost"]):
    schema = schemathesis.openapi.from_wsgi(
        "/api/schema/?format=json",
        get_wsgi_application(),
        config=schemathesis.Config.from_dict({"seed": SEED, "generation": {"max-examples": EXAMPLES_PER_OPERATION}}),
    )


@pytest.fixture
def in_process_wsgi(settings):
    """Let the WSGI handler run inside the test's transaction, as Django's own test client does.

    The handler closes "old" connections when a request starts and ends; inside the test's
    transaction that would close the connection and lose the transaction with it.
    """
    settings.ALLOWED_HOSTS = ["localhost"]  # the host schemathesis' WSGI client sends
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def no_outbound(monkeypatch):
    """Generated hosts for POST /api/ssh/host-keys/ reach no DNS server and no SSH server: none resolves,
    and an IP address the policy allows times out (the real fetch is tested in tests/integration)."""
    from credentials import hostkeys, outbound

    def unresolvable(host: str, port: int) -> list[str]:
        raise outbound.UnresolvableHost(f"Could not resolve host '{host[:100]}'.")

    def silent(*args: Any) -> None:
        raise TimeoutError

    monkeypatch.setattr(outbound, "lookup_addresses", unresolvable)
    monkeypatch.setattr(hostkeys, "_handshake", silent)


@pytest.fixture
def world(owner, owner_token, in_process_wsgi, no_outbound):
    """What requests meet: the caller's credentials, another's shared with it for use only, a hidden one."""
    other = make_user("other")
    mine = make_credential(owner, "github_pat")
    make_credential(owner, "postgres", tags=["db"], environment="staging")
    use_only = make_credential(other, "http_bearer")
    credential_share(actor=other, credential_id=use_only.pk, permissions=["use"], user=owner)
    hidden = make_credential(other, "redis")
    credential_reveal(actor=owner, credential_id=mine.pk, service="schemathesis")  # something for usage/
    return {
        "token": owner_token,
        "mine": str(mine.pk),
        "use_only": str(use_only.pk),
        "real": {
            "id": [str(mine.pk), str(use_only.pk), str(hidden.pk)],
            "slug": ["github_pat", "ssh_key"],
            "number": ["1", "2"],  # a version's: 1 is each credential's first (and current), 2 none's
        },
    }


def _aim_at_real_objects(case, real: dict[str, list[str]]) -> None:
    """Point most examples at objects that exist; a fifth keep their generated value, which names none.

    The choice hashes the example, so it is the same on every run and when hypothesis replays it.
    A value schemathesis picked up from an earlier response already names a real object and stays:
    ids are random, so hashing it would make the choice differ between runs.
    """
    parameters = case.path_parameters or {}
    known = {value for values in real.values() for value in values}
    generated = {name: value for name, value in parameters.items() if value not in known}
    example = json.dumps([case.method, generated, case.query, case.body], default=lambda value: type(value).__name__)
    choice = zlib.crc32(example.encode()) % 5
    for name, values in real.items():
        if name in generated and choice < 4:
            parameters[name] = values[choice % len(values)]


@schema.parametrize()
@hypothesis.settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    database=None,
    # One transaction and one set of objects serve all the examples of an operation, on purpose.
    suppress_health_check=[hypothesis.HealthCheck.function_scoped_fixture, hypothesis.HealthCheck.too_slow],
)
def test_generated_requests_get_documented_answers(case, world):
    _aim_at_real_objects(case, world["real"])
    cache.clear()  # throttle counters: each example starts afresh
    with transaction.atomic():
        response = case.call(headers={"Authorization": f"Token {world['token']}"})
        case.validate_response(response, checks=CHECKS)
        transaction.set_rollback(True)


# --- Answers random input rarely reaches: successes, conflicts, refusals --------------------------


def _sender(token: str | None):
    """``send(label, status, **parts)``: one hand-made request, its answer held to the schema and to ``status``."""

    def send(label: str, expect: int, **parts: Any) -> Any:
        method, path = label.split(" ", 1)
        case = schema[path][method].Case(**parts)
        response = case.call(headers={"Authorization": f"Token {token}"} if token else {})
        case.validate_response(response, checks=CHECKS)
        assert response.status_code == expect, response.text
        return response.json() if response.content else None

    return send


def test_a_credential_lifecycle_gets_documented_answers(world, stranger):
    send = _sender(world["token"])
    body = {
        "type": "http_basic",
        "name": "billing",
        "fields": {"base_url": "https://billing.example.com", "username": "svc", "password": "password-one"},
        "tags": ["ops"],
        "expires_at": "2099-01-01T00:00:00Z",
    }
    created = send("POST /api/credentials/", 201, body=body)
    one = {"id": created["id"]}
    first = created["version"]

    send("GET /api/credentials/", 200, query={"tag": "ops", "page_size": 1, "page": 1})
    send("GET /api/credentials/", 200, query={"expiring_within": 36_500, "search": "bill"})
    send("GET /api/credentials/", 404, query={"page": 99})
    send("GET /api/credentials/", 400, query={"page_size": 0})
    send("GET /api/credentials/{id}/", 200, path_parameters=one)

    changed = send("PATCH /api/credentials/{id}/", 200, path_parameters=one, body={"tags": [], "version": first})
    stale = {"If-Match": f'"{first}"'}
    send("PATCH /api/credentials/{id}/", 412, path_parameters=one, headers=stale, body={"description": "b"})
    replace = {"name": "billing", "environment": "production", "fields": {}}
    send("PUT /api/credentials/{id}/", 409, path_parameters=one, body={**replace, "version": first})
    send("PATCH /api/credentials/{id}/", 428, path_parameters=one, body={"description": "c"})
    fresh = {"If-Match": f'"{changed["version"]}"'}
    send("PUT /api/credentials/{id}/", 200, path_parameters=one, headers=fresh, body={**replace, "name": "billing-2"})

    send("GET /api/credentials/{id}/audit-logs/", 200, path_parameters=one)
    send("GET /api/credentials/{id}/audit-logs/", 400, path_parameters=one, query={"page": "first"})
    send("GET /api/credentials/{id}/usage/", 200, path_parameters={"id": world["mine"]})

    grant, take_back = {"user": "stranger", "permissions": ["use", "view"]}, {"user": "stranger", "permissions": "view"}
    send("POST /api/credentials/{id}/shares/", 200, path_parameters=one, body=grant)
    send("GET /api/credentials/{id}/shares/", 200, path_parameters=one)
    send("DELETE /api/credentials/{id}/shares/", 200, path_parameters=one, query=take_back)

    send("DELETE /api/credentials/{id}/", 204, path_parameters=one)
    send("GET /api/credentials/{id}/", 404, path_parameters=one)


def test_a_secret_history_gets_documented_answers(world):
    send = _sender(world["token"])
    body = {"type": "github_pat", "name": "history", "fields": {"token": "first-token-0001"}}
    one = {"id": send("POST /api/credentials/", 201, body=body)["id"]}
    changed = send(
        "PATCH /api/credentials/{id}/",
        200,
        path_parameters=one,
        body={"fields": {"token": "second-token-0002"}, "version": 1},
    )
    listed = send("GET /api/credentials/{id}/versions/", 200, path_parameters=one)
    assert [row["number"] for row in listed] == [2, 1]
    first, current = {**one, "number": 1}, {**one, "number": 2}
    rollback = "POST /api/credentials/{id}/versions/{number}/rollback/"
    send(rollback, 428, path_parameters=first, body={})
    send(rollback, 409, path_parameters=first, body={"version": 1})
    send(rollback, 412, path_parameters=first, headers={"If-Match": '"1"'}, body={})
    send(rollback, 400, path_parameters=current, body={"version": changed["version"]})
    send(rollback, 404, path_parameters={**one, "number": 9}, body={"version": changed["version"]})
    done = send(rollback, 200, path_parameters=first, body={"version": changed["version"]})
    assert (done["restored_from"], done["secret_version"]) == (1, 3)
    destroy = "DELETE /api/credentials/{id}/versions/{number}/"
    send(destroy, 400, path_parameters={**one, "number": 3})
    send(destroy, 204, path_parameters=current)
    send(destroy, 404, path_parameters=current)
    send(rollback, 404, path_parameters=current, body={"version": done["credential"]["version"]})


def test_a_user_who_may_only_use_gets_documented_refusals(world):
    send, one = _sender(world["token"]), {"id": world["use_only"]}
    shown = send("GET /api/credentials/{id}/", 200, path_parameters=one)
    assert shown["fields"] is None and shown["permissions"] == ["use"]
    for label in (
        "GET /api/credentials/{id}/audit-logs/",
        "GET /api/credentials/{id}/usage/",
        "GET /api/credentials/{id}/shares/",
        "GET /api/credentials/{id}/versions/",
        "DELETE /api/credentials/{id}/",
    ):
        send(label, 403, path_parameters=one)
    send("DELETE /api/credentials/{id}/versions/{number}/", 403, path_parameters={**one, "number": 1})
    send("POST /api/credentials/{id}/versions/{number}/rollback/", 403, path_parameters={**one, "number": 1}, body={})
    send("PATCH /api/credentials/{id}/", 403, path_parameters=one, body={"description": "mine now", "version": 1})
    send(
        "POST /api/credentials/{id}/shares/", 403, path_parameters=one, body={"user": "owner", "permissions": ["view"]}
    )


def test_tokens_and_types_get_documented_answers(world, owner):
    anonymous, send = _sender(None), _sender(world["token"])
    anonymous("POST /api/auth/token/", 200, body={"username": owner.username, "password": PASSWORD})
    anonymous("POST /api/auth/token/", 400, body={"username": owner.username, "password": "wrong"})
    types = send("GET /api/credential-types/", 200)
    assert {"github_pat", "ssh_key"} <= {row["slug"] for row in types}
    send("GET /api/credential-types/{slug}/", 200, path_parameters={"slug": "ssh_key"})
    send("GET /api/credential-types/{slug}/", 404, path_parameters={"slug": "v1.2"})  # a dot: still the API's 404


def test_host_keys_get_documented_answers(world, monkeypatch):
    import paramiko

    from credentials import hostkeys, outbound

    (key,) = [key for key in hostkeys.PRESETS[0].keys if key.key_type == "ssh-ed25519"]
    offered = paramiko.PKey.from_type_string(key.key_type, base64.b64decode(key.line.split()[2]))

    def handshake(destination: Any, key_types: tuple[str, ...], timeout: float) -> paramiko.PKey:
        if key.key_type not in key_types:
            raise paramiko.SSHException("Incompatible ssh peer (no acceptable host key)")
        return offered

    monkeypatch.setattr(outbound, "lookup_addresses", lambda host, port: ["93.184.215.14"])
    monkeypatch.setattr(hostkeys, "_handshake", handshake)
    send = _sender(world["token"])
    answer = send("POST /api/ssh/host-keys/", 200, body={"host": "git.example.com", "port": 2222})
    assert answer == {"keys": [{"line": f"[git.example.com]:2222 {key.key_type} {offered.get_base64()}",
                                "type": key.key_type, "fingerprint": key.fingerprint}]}  # fmt: skip
    send("POST /api/ssh/host-keys/", 400, body={"host": "169.254.169.254"})
    presets = send("GET /api/ssh/host-keys/presets/", 200)
    assert [preset["host"] for preset in presets] == ["github.com", "gitlab.com"]


@pytest.mark.parametrize("token", [None, "lk_not-a-real-token"])
def test_every_operation_answers_a_stranger_with_a_documented_401(world, token):
    send = _sender(token)
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path != "/api/auth/token/":
            ids = {name: str(uuid.uuid4()) for name in re.findall(r"{(\w+)}", operation.path)}
            send(operation.label, 401, path_parameters=ids)


# --- The schema itself and its docs page --------------------------------------------------------


def test_schema_generates_without_warnings_and_validates(tmp_path):
    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--fail-on-warn", "--validate", "--file", str(out))
    assert "/api/credentials/{id}/shares/" in out.read_text()


def test_each_operation_declares_exactly_the_parameters_of_its_path():
    for path, operations in schema.raw_schema["paths"].items():
        in_template = set(re.findall(r"{(\w+)}", path))
        for method, operation in operations.items():
            declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            assert declared == in_template, f"{method.upper()} {path} declares {sorted(declared)}"


def test_docs_page_loads_local_assets_only(client, settings):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="swagger-ui"' in html
    assert not re.search(r"https?://", html), "the docs page names an outside address"
    assets = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", html)
    assert len(assets) >= 3
    for asset in assets:
        assert asset.startswith("/") and not asset.startswith("//"), asset
        if asset.startswith(f"/{settings.STATIC_URL.strip('/')}/"):
            assert finders.find(asset.split("/", 2)[2]), f"{asset} is not in any app's static files"
        else:
            script = client.get(asset)
            assert script.status_code == 200
            assert not re.search(r"https?://", script.content.decode()), f"{asset} names an outside address"
