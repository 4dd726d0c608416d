"""Fetching host keys from a real sshd: each key type it offers, with ssh-keygen's fingerprints; the policy."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from credentials.hostkeys import HostKeyFetchFailed, fetch_host_keys
from credentials.types.ssh import parse_host_keys
from tests.factories import make_user
from tests.integration import servers
from tests.integration.hostkey_server import multi_key_sshd
from tests.outbound_support import recording_listener

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120), pytest.mark.django_db]


@pytest.fixture(scope="module")
def sshd(sshd_available, tmp_path_factory) -> Iterator[tuple[int, dict[str, str], Path]]:
    with multi_key_sshd(tmp_path_factory.mktemp("hostkeys-sshd")) as server:
        yield server


def test_every_offered_key_type_with_ssh_keygens_fingerprint(sshd):
    port, fingerprints, _ = sshd
    offered = fetch_host_keys(actor=make_user(), host=servers.LOOPBACK, port=port)
    assert {key.key_type: key.fingerprint for key in offered} == fingerprints
    for key in offered:
        assert key.line.startswith(f"[{servers.LOOPBACK}]:{port} {key.key_type} ")
        # Each line pins as it is: parse_host_keys reads the same fingerprint back.
        (pinned,) = parse_host_keys(key.line)
        assert pinned.fingerprint == key.fingerprint
        assert pinned.hosts == (servers.LOOPBACK,)


def test_no_handshake_authenticates(sshd):
    port, _, log = sshd
    fetch_host_keys(actor=make_user(), host=servers.LOOPBACK, port=port)
    text = log.read_text()
    assert "Accepted" not in text and "Failed" not in text and "userauth" not in text.lower()


def test_a_refused_loopback_host_is_never_connected_to(settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    with recording_listener() as listener, pytest.raises(HostKeyFetchFailed) as caught:
        fetch_host_keys(actor=make_user(), host=servers.LOOPBACK, port=listener.port)
    assert "Refused before connecting: 127.0.0.1 is a loopback address" in str(caught.value)
    assert caught.value.field == "host"
    assert listener.connections == []


def test_link_local_is_refused_even_when_listed(settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    with pytest.raises(HostKeyFetchFailed, match="link-local"):
        fetch_host_keys(actor=make_user(), host="169.254.169.254", port=22)


def test_a_server_that_speaks_no_ssh_is_a_clear_failure():
    with recording_listener() as listener, pytest.raises(HostKeyFetchFailed) as caught:
        fetch_host_keys(actor=make_user(), host=servers.LOOPBACK, port=listener.port)
    assert f"{servers.LOOPBACK}:{listener.port}" in str(caught.value)
    assert listener.connections  # it was reached, and said nothing a host key could come from


def test_nothing_listening_is_a_clear_failure():
    port = servers.free_port()
    with pytest.raises(HostKeyFetchFailed, match=f"Could not connect to {servers.LOOPBACK}:{port}"):
        fetch_host_keys(actor=make_user(), host=servers.LOOPBACK, port=port)


def test_the_api_returns_the_offered_keys(sshd):
    port, fingerprints, _ = sshd
    client = APIClient()
    client.force_authenticate(make_user())
    response = client.post("/api/ssh/host-keys/", {"host": servers.LOOPBACK, "port": port}, format="json")
    assert response.status_code == 200, response.content
    keys = response.json()["keys"]
    assert {key["type"]: key["fingerprint"] for key in keys} == fingerprints
    assert all(key["line"].startswith(f"[{servers.LOOPBACK}]:{port} ") for key in keys)
