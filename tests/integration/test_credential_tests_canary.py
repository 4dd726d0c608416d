"""The canary through credential tests: never in the broker, the worker's log, a test message or an audit row.

A credential of every built-in type carries the canary in each secret field and is tested by a
real worker (logging at DEBUG) against real servers, which echo what they were sent in their
error bodies. Every command the broker received is recorded (Redis MONITOR) and every key it
holds afterwards is read; the canary, plain, URL-encoded or base64, must be in none of them.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from rest_framework.test import APIClient

from credentials.models import Credential
from credentials.services import credential_create
from tests.canary import Haystack, dump_database, forms_of
from tests.factories import ssh_keypair
from tests.integration import servers
from tests.integration.broker import broker_commands, broker_contents
from tests.integration.conftest import wait_for_result

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240), pytest.mark.django_db(transaction=True)]

CANARY = f"canary-{uuid.uuid4().hex}/+=?&%"


@pytest.fixture(scope="module")
def worker(broker, test_database_url, tmp_path_factory) -> Iterator[servers.Worker]:
    """This module's worker logs at DEBUG: the most it ever says must still hold no secret."""
    from config.celery import app

    app.control.purge()
    log = tmp_path_factory.mktemp("canary-worker") / "worker.log"
    process = servers.start_worker(database_url=test_database_url, broker_url=broker, log=log, loglevel="DEBUG")
    yield process
    servers.stop(process.process, group=True)


def test_the_canary_leaks_nowhere_in_credential_tests(worker, broker, own_postgres, owner, tmp_path):
    forge = servers.FakeForge(token="the-server-wants-another-token")
    _, public = ssh_keypair("")
    private_encrypted, _ = ssh_keypair(CANARY)  # a key the server does not accept, with the canary as passphrase
    with (
        servers.http_server(forge) as http_port,
        servers.redis_server("the-server-wants-another-password") as redis_port,
        servers.ssh_server(tmp_path, public) as sshd,
        broker_commands(broker) as commands,
    ):
        base = f"http://{servers.LOOPBACK}:{http_port}"
        loopback_db = {"host": servers.LOOPBACK, "username": "nobody", "password": CANARY}
        fields = {
            "github_pat": {"token": CANARY, "base_url": base},
            "gitlab_pat": {"token": CANARY, "base_url": base},
            "gitlab_oauth": {"access_token": CANARY, "base_url": base},
            "http_bearer": {"base_url": base, "token": CANARY, "test_path": "/check/bearer"},
            "http_header": {"base_url": base, "header_value": CANARY, "test_path": "/check/header"},
            "http_basic": {"base_url": base, "username": "octocat", "password": CANARY, "test_path": "/check/basic"},
            "postgres": {**loopback_db, "port": own_postgres.port, "database": "postgres", "sslmode": "disable"},
            "redis": {**loopback_db, "port": redis_port},
            "ssh_key": {
                "username": sshd.user,
                "private_key": private_encrypted,
                "passphrase": CANARY,
                "host_keys": sshd.host_key_line,
            },
        }
        client = APIClient()
        client.force_authenticate(owner)
        credentials = [
            credential_create(actor=owner, type_slug=slug, name=f"canary-{slug}", fields=values)
            for slug, values in fields.items()
        ]
        for credential in credentials:
            assert client.post(f"/api/credentials/{credential.pk}/test/").status_code == 202
        results = [wait_for_result(credential.pk) for credential in credentials]

    assert [r.test_status for r in results] == ["failed"] * len(results), [r.test_message for r in results]
    # The servers did receive it, and echoed it back: the redactor had something to do.
    assert any(CANARY in value for _, _, headers in forge.requests for value in headers.values())
    haystack = Haystack()
    for result in results:
        haystack.add(f"test message of {result.name}", result.test_message)
    for number, command in enumerate(commands):
        haystack.add(f"broker command {number}", command)
    for entry in broker_contents(broker):
        haystack.add("broker key", entry)
    haystack.add("worker log", worker.log_text())
    dump_database(haystack, "database")

    assert len(commands) > 0 and any("credentials.test" in command for command in commands)
    assert "credentials.test" in worker.log_text()
    assert haystack.leaks({CANARY}) == []
    # The redacted messages still say what went wrong.
    messages = {r.type.slug: r.test_message for r in Credential.objects.filter(name__startswith="canary-")}
    assert "***" in messages["github_pat"]
    assert forms_of(CANARY)  # the search covers the plain, URL-encoded and base64 forms
