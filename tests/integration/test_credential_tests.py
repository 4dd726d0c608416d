"""Credential tests end to end: the API queues a Celery task, a real worker runs it against real servers.

Each server is started by the tests on a free loopback port: a PostgreSQL cluster with password
authentication, a second redis-server with a password, OpenSSH's sshd with its own host key, and
an HTTP server speaking GitHub's and GitLab's user endpoints. Each credential type: the right
secret passes, a wrong one fails with a clear message in which the secret never appears.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from rest_framework.test import APIClient

from audit.models import AuditEvent
from credentials.models import Credential
from credentials.services import credential_create
from tests.factories import ssh_keypair
from tests.integration import servers
from tests.integration.conftest import wait_for_result

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180), pytest.mark.django_db(transaction=True)]

LOOPBACK = servers.LOOPBACK
RIGHT = f"right-{uuid.uuid4().hex}"
WRONG = f"wrong-{uuid.uuid4().hex}"


@pytest.fixture(scope="module")
def forge() -> Any:
    forge = servers.FakeForge(token=RIGHT, username="octocat")
    with servers.http_server(forge) as port:
        forge.port = port
        yield forge


@pytest.fixture(scope="module")
def redis_port(redis_server_available) -> Any:
    with servers.redis_server(RIGHT) as port:
        yield port


@pytest.fixture(scope="module")
def postgres_role(own_postgres) -> str:
    role = f"lk_test_{uuid.uuid4().hex[:8]}"
    own_postgres.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{RIGHT}'")
    return role


@pytest.fixture(scope="module")
def sshd(sshd_available, tmp_path_factory) -> Any:
    _, public = ssh_keypair("")
    with servers.ssh_server(tmp_path_factory.mktemp("sshd"), public) as server:
        yield server


def request_test(owner: Any, credential: Credential) -> Credential:
    client = APIClient()
    client.force_authenticate(owner)
    response = client.post(f"/api/credentials/{credential.pk}/test/")
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["test_status"] == "running"
    assert response["Location"] == body["status_url"] == f"/api/credentials/{credential.pk}/"
    finished = wait_for_result(credential.pk)
    detail = client.get(body["status_url"]).json()
    assert detail["test_status"] == finished.test_status
    assert detail["test_message"] == finished.test_message
    return finished


def make(owner: Any, type_slug: str, fields: dict[str, Any]) -> Credential:
    return credential_create(
        actor=owner, type_slug=type_slug, name=f"{type_slug}-{uuid.uuid4().hex[:6]}", fields=fields
    )


def assert_tested_event(credential: Credential, status: str) -> dict[str, Any]:
    event = AuditEvent.objects.filter(credential_ref=str(credential.pk), action="tested").latest("id")
    assert event.details["status"] == status
    assert event.details["message"] == credential.test_message
    assert event.service == "credential-test"
    return event.details


def http_fields(type_slug: str, port: int, secret: str) -> dict[str, Any]:
    base = f"http://{LOOPBACK}:{port}"
    return {
        "github_pat": {"token": secret, "base_url": base},
        "gitlab_pat": {"token": secret, "base_url": base},
        "gitlab_oauth": {"access_token": secret, "base_url": base},
        "http_bearer": {"base_url": base, "token": secret, "test_path": "/check/bearer"},
        "http_header": {"base_url": base, "header_value": secret, "test_path": "/check/header"},
        "http_basic": {"base_url": base, "username": "octocat", "password": secret, "test_path": "/check/basic"},
    }[type_slug]


HTTP_PASSES = {
    "github_pat": "Authenticated as octocat (scopes: repo, read:org).",
    "gitlab_pat": "Authenticated as octocat (scopes: read_api, read_repository).",
    "gitlab_oauth": "Authenticated as octocat (scopes: read_user, api).",
    "http_bearer": "/check/bearer answered 200 OK.",
    "http_header": "/check/header answered 200 OK.",
    "http_basic": "/check/basic answered 200 OK.",
}


@pytest.mark.parametrize("type_slug", list(HTTP_PASSES))
def test_http_tokens_pass_with_the_right_secret_and_fail_with_a_wrong_one(worker, forge, owner, type_slug):
    good = request_test(owner, make(owner, type_slug, http_fields(type_slug, forge.port, RIGHT)))
    bad = request_test(owner, make(owner, type_slug, http_fields(type_slug, forge.port, WRONG)))

    assert good.test_status == "passed", good.test_message
    assert good.test_message.endswith(HTTP_PASSES[type_slug])
    assert good.test_failures == 0 and good.last_tested is not None
    assert bad.test_status == "failed"
    assert "401 Unauthorized: Bad credentials: '***' is not valid" in bad.test_message
    assert WRONG not in bad.test_message and RIGHT not in good.test_message
    assert bad.test_failures == 1
    assert_tested_event(good, "passed")
    assert_tested_event(bad, "failed")


def test_a_redirect_is_not_followed(worker, forge, owner):
    fields = {"base_url": f"http://{LOOPBACK}:{forge.port}", "token": RIGHT, "test_path": "/redirect"}

    result = request_test(owner, make(owner, "http_bearer", fields))

    assert result.test_status == "failed"
    assert "redirects are not followed" in result.test_message
    assert not any("evil" in path for _, path, _ in forge.requests)


def test_postgres_passes_with_the_right_password_and_fails_with_a_wrong_one(worker, own_postgres, postgres_role, owner):
    def fields(password: str) -> dict[str, Any]:
        return {
            "host": LOOPBACK,
            "port": own_postgres.port,
            "database": "postgres",
            "username": postgres_role,
            "password": password,
            "sslmode": "disable",
        }

    good = request_test(owner, make(owner, "postgres", fields(RIGHT)))
    bad = request_test(owner, make(owner, "postgres", fields(WRONG)))

    assert good.test_status == "passed", good.test_message
    assert good.test_message.startswith(f"Connected to {LOOPBACK}:{own_postgres.port}/postgres as {postgres_role}")
    assert bad.test_status == "failed"
    assert f'password authentication failed for user "{postgres_role}"' in bad.test_message
    assert WRONG not in bad.test_message


def test_redis_passes_with_the_right_password_and_fails_with_a_wrong_one(worker, redis_port, owner):
    def fields(password: str) -> dict[str, Any]:
        return {"host": LOOPBACK, "port": redis_port, "password": password}

    good = request_test(owner, make(owner, "redis", fields(RIGHT)))
    bad = request_test(owner, make(owner, "redis", fields(WRONG)))

    assert good.test_status == "passed", good.test_message
    assert good.test_message.startswith(f"Authenticated to Redis at {LOOPBACK}:{redis_port} and got PONG")
    assert bad.test_status == "failed"
    assert f"Redis at {LOOPBACK}:{redis_port} refused the password" in bad.test_message
    assert WRONG not in bad.test_message


def _ssh_fields(private_key: str, host_keys: str, user: str, passphrase: str = "") -> dict[str, Any]:
    return {"username": user, "private_key": private_key, "passphrase": passphrase, "host_keys": host_keys}


def test_ssh_key_passes_against_its_pinned_host_key(worker, sshd, owner):
    private, _ = ssh_keypair("")

    result = request_test(owner, make(owner, "ssh_key", _ssh_fields(private, sshd.host_key_line, sshd.user)))

    assert result.test_status == "passed", result.test_message
    server_key = sshd.host_key_line.split()[2]
    assert f"Authenticated to {LOOPBACK}:{sshd.port} as {sshd.user}" in result.test_message
    assert _fingerprint(server_key) in result.test_message


def test_ssh_key_the_server_does_not_authorize_fails(worker, sshd, owner):
    # Another key, encrypted: its passphrase is a secret of this test too.
    private, _ = ssh_keypair(WRONG)

    result = request_test(
        owner, make(owner, "ssh_key", _ssh_fields(private, sshd.host_key_line, sshd.user, passphrase=WRONG))
    )

    assert result.test_status == "failed"
    assert f"The server at {LOOPBACK}:{sshd.port} (host key verified) refused the key" in result.test_message
    assert WRONG not in result.test_message


def test_ssh_unknown_host_key_fails_and_shows_the_offered_fingerprint(worker, sshd, owner):
    private, _ = ssh_keypair("")
    _, other_public = ssh_keypair("host-key")  # a key that is not the server's
    pinned = f"[{LOOPBACK}]:{sshd.port} {' '.join(other_public.split()[:2])}"

    result = request_test(owner, make(owner, "ssh_key", _ssh_fields(private, pinned, sshd.user)))

    assert result.test_status == "failed"
    offered = _fingerprint(sshd.host_key_line.split()[2])
    assert f"offered the ssh-ed25519 host key {offered}" in result.test_message
    assert "Nothing was sent" in result.test_message
    details = assert_tested_event(result, "failed")
    assert details["facts"]["offered_fingerprint"] == offered


def test_scheduled_retests_run_through_the_worker_and_count_failures(worker, own_postgres, postgres_role, owner):
    from credentials.testers.runs import credential_retest_scheduled

    fields = {
        "host": LOOPBACK,
        "port": own_postgres.port,
        "database": "postgres",
        "username": postgres_role,
        "password": WRONG,
        "sslmode": "disable",
    }
    failing = credential_create(actor=owner, type_slug="postgres", name="nightly", fields=fields, retest_daily=True)
    credential_create(actor=owner, type_slug="postgres", name="not-scheduled", fields=fields)

    for round_number in range(1, 4):
        assert credential_retest_scheduled() == 1
        result = wait_for_result(failing.pk)
        assert result.test_status == "failed"
        assert result.test_failures == round_number
        # Ready for the next round: a finished run is no longer "running".
        Credential.objects.filter(pk=failing.pk).update(test_status="failed")

    client = APIClient()
    client.force_authenticate(owner)
    detail = client.get(f"/api/credentials/{failing.pk}/").json()
    assert detail["test_failures"] == 3 and detail["test_flagged"] is True and detail["retest_daily"] is True
    assert AuditEvent.objects.filter(credential_ref=str(failing.pk), action="tested").count() == 3
    assert {e.details["trigger"] for e in AuditEvent.objects.filter(action="tested")} == {"schedule"}


def _fingerprint(key_b64: str) -> str:
    import base64
    import hashlib

    digest = hashlib.sha256(base64.b64decode(key_b64)).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def test_postgres_without_a_password_passes_where_the_server_trusts_and_never_offers_the_workers_own(
    eager_tasks, own_postgres, postgres_role, owner, monkeypatch
):
    # The shared server (CI's) trusts loopback; our own cluster asks for a password. The test runs
    # in this process (tasks in-process), whose PGPASSWORD is the role's right password: libpq
    # must not offer it on the credential's behalf.
    monkeypatch.setenv("PGPASSWORD", RIGHT)
    trusted = {"host": LOOPBACK, "port": 5432, "database": "postgres", "username": "postgres", "sslmode": "disable"}
    asking = {**trusted, "port": own_postgres.port, "username": postgres_role}

    passed = request_test(owner, make(owner, "postgres", trusted))
    refused = request_test(owner, make(owner, "postgres", asking))

    assert passed.test_status == "passed", passed.test_message
    assert "as postgres without a password (the server asked for none)" in passed.test_message
    assert refused.test_status == "failed"
    assert "refused the connection" in refused.test_message and RIGHT not in refused.test_message
