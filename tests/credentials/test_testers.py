"""Testers called directly, against servers on loopback: destinations, redirects, redaction, custom test specs."""

from __future__ import annotations

import json
import uuid

import pytest
from django.urls import reverse

from credentials import testers
from credentials.door import RevealedSecret
from credentials.models import CredentialType
from credentials.redaction import Redactor
from credentials.testers.custom import CustomHTTPTester, validate_test_spec
from credentials.testers.database import PostgresTester
from credentials.testers.ssh import SSHKeyTester
from credentials.testers.web import BasicTester, GitHubTokenTester
from credentials.types import get_type, parse_schema
from tests.factories import BUILTIN_SLUGS, host_key_line, ssh_keypair
from tests.integration import servers

TOKEN = f"tok-{uuid.uuid4().hex}"


def revealed(type_slug: str, values: dict, hosts: tuple[str, ...] = ("127.0.0.1",)) -> RevealedSecret:
    spec = get_type(type_slug) if type_slug != "custom" else None
    secret_names = tuple(spec.secret_field_names) if spec else tuple(n for n in values if n.startswith("key"))
    return RevealedSecret(
        credential_id=uuid.uuid4(), type_slug=type_slug, values=values, secret_names=secret_names, allowed_hosts=hosts
    )


def run(tester, secret: RevealedSecret):
    return tester.test(secret, Redactor(secret.secret_values))


@pytest.fixture(scope="module")
def forge():
    forge = servers.FakeForge(token=TOKEN, username="octocat", password=TOKEN)
    with servers.http_server(forge) as port:
        forge.base = f"http://127.0.0.1:{port}"
        yield forge


def test_every_builtin_type_has_a_tester():
    rows = [CredentialType(slug=slug, is_system=True) for slug in BUILTIN_SLUGS]
    assert all(testers.tester_for(row) is not None for row in rows)


def test_a_host_the_credential_does_not_allow_is_refused_before_connecting(forge):
    before = len(forge.requests)
    secret = revealed("github_pat", {"token": TOKEN, "base_url": forge.base}, hosts=("api.github.com",))

    outcome = run(GitHubTokenTester(), secret)

    assert not outcome.passed
    assert outcome.message.startswith("Refused before connecting: This credential may only be sent to api.github.com")
    assert len(forge.requests) == before


def test_github_reports_the_user_and_scopes(forge):
    outcome = run(GitHubTokenTester(), revealed("github_pat", {"token": TOKEN, "base_url": forge.base}))

    assert outcome.passed, outcome.message
    assert outcome.facts == {"user": "octocat", "scopes": ["repo", "read:org"]}


def test_a_basic_auth_header_echoed_back_is_redacted(forge):
    values = {"base_url": forge.base, "username": "octocat", "password": "not-" + TOKEN, "test_path": "/check/basic"}

    outcome = run(BasicTester(), revealed("http_basic", values))

    assert not outcome.passed
    assert "Bad credentials: '***' is not valid" in outcome.message


def test_nothing_listening_is_a_clear_failure():
    port = servers.free_port()
    values = {"host": "127.0.0.1", "port": port, "database": "d", "username": "u", "password": "p-secret"}

    outcome = run(PostgresTester(), revealed("postgres", values))

    assert not outcome.passed
    assert outcome.message.startswith(f"PostgreSQL at 127.0.0.1:{port} refused the connection")


@pytest.mark.parametrize("database", ["host=evil.example dbname=x", "postgresql://evil.example/x"])
def test_a_database_name_cannot_smuggle_a_connection_string(database):
    values = {"host": "127.0.0.1", "port": 5432, "database": database, "username": "u", "password": "pw-1234"}

    outcome = run(PostgresTester(), revealed("postgres", values))

    assert outcome.message == "The database must be a plain name, not a connection string."


def test_ssh_reports_a_host_that_does_not_answer():
    private, _ = ssh_keypair("")
    port = servers.free_port()
    pinned = host_key_line(f"[127.0.0.1]:{port}")
    values = {"username": "git", "private_key": private, "passphrase": "", "host_keys": pinned}

    outcome = run(SSHKeyTester(), revealed("ssh_key", values))

    assert not outcome.passed
    assert outcome.message.startswith(f"Could not connect to 127.0.0.1:{port}")


# --- Custom types' test specs ----------------------------------------------------------------------

FIELDS = parse_schema(
    [
        {"name": "base_url", "label": "Base URL", "required": True},
        {"name": "key", "label": "Key", "secret": True, "required": True},
    ]
)


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ([], "Write the test as a JSON object"),
        ({"url": "{base_url}/me", "verb": "GET"}, "Unknown key 'verb'."),
        ({}, None),
        ({"method": "GET"}, "'url' is required"),
        ({"url": "{base_url}/me?key={key}"}, "'url' may not hold the secret {key}"),
        ({"url": "{nope}/me"}, "'url' names {nope}"),
        ({"url": "ftp://x/"}, "'url' must start with"),
        ({"url": "{base_url}", "method": "DELETE"}, "'method' must be one of GET, HEAD."),
        ({"url": "{base_url}", "headers": {"Bad Header": "x"}}, "'Bad Header' is not a header name."),
        ({"url": "{base_url}", "headers": {"X-Key": "{other}"}}, "Header 'X-Key' names {other}"),
        ({"url": "{base_url}", "expect_status": [99]}, "'expect_status' must be a list"),
    ],
)
def test_test_specs_are_validated(spec, problem):
    problems = validate_test_spec(spec, FIELDS)
    if problem is None:
        assert problems == []
    else:
        assert any(p.startswith(problem) for p in problems), problems


def test_a_custom_spec_sends_its_headers_to_its_url(forge):
    tester = CustomHTTPTester({"url": "{base_url}/check/header", "headers": {"X-API-Key": "{key}"}}, FIELDS)

    good = run(tester, revealed("custom", {"base_url": forge.base, "key": TOKEN}))
    bad = run(tester, revealed("custom", {"base_url": forge.base, "key": "key-wrong-1"}))

    assert good.passed, good.message
    assert not bad.passed and "key-wrong-1" not in bad.message


def test_an_invalid_stored_spec_fails_the_test_with_its_problems():
    tester = CustomHTTPTester({"url": "{base_url}?k={key}"}, FIELDS)

    outcome = run(tester, revealed("custom", {"base_url": "http://127.0.0.1:1", "key": "k-1"}))

    assert outcome.message.startswith("This type's test spec is invalid: 'url' may not hold the secret {key}")


def test_the_admin_refuses_a_bad_test_spec(client, superuser):
    client.force_login(superuser)
    data = {
        "slug": "acme_api",
        "name": "Acme API",
        "category": "api",
        "icon": "key",
        "description": "",
        "schema": json.dumps([{"name": "base_url", "label": "URL"}, {"name": "key", "label": "K", "secret": True}]),
        "test_spec": json.dumps({"url": "{base_url}/?k={key}"}),
        "is_active": "on",
    }

    response = client.post(reverse("admin:credentials_credentialtype_add"), data)

    assert response.status_code == 200
    assert "may not hold the secret {key}" in response.content.decode()
    assert not CredentialType.objects.filter(slug="acme_api").exists()


def test_an_unknown_host_key_is_refused_and_remembered_for_the_message():
    import types

    import paramiko

    from credentials.testers.ssh import _RecordingRejectPolicy
    from credentials.types.ssh import load_private_key

    offered = load_private_key(ssh_keypair("")[0], None)
    policy = _RecordingRejectPolicy()
    client = types.SimpleNamespace(_log=lambda *args: None)  # what RejectPolicy reads of the client

    with pytest.raises(paramiko.SSHException, match="not found in known_hosts"):
        policy.missing_host_key(client, "[127.0.0.1]:2222", offered)

    assert policy.offered is offered
