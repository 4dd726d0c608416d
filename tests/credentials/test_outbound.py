"""The outbound address policy (credentials/outbound.py), alone and inside every tester: no request forgery.

Refused outside DEBUG unless listed in OUTBOUND_ALLOWED_NETWORKS: loopback, private and reserved
addresses. Refused in every mode, listed or not: link-local (169.254.169.254), cloud metadata,
unspecified, multicast. A host is resolved once per connection and the connection goes to the
address judged, so a second DNS answer (rebinding) is never used.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from credentials import outbound
from credentials.door import RevealedSecret
from credentials.errors import DestinationRefused
from credentials.redaction import Redactor
from credentials.testers.database import PostgresTester, RedisTester
from credentials.testers.ssh import SSHKeyTester
from credentials.testers.web import BearerTester
from credentials.types.hosts import normalise_host
from tests.integration import servers
from tests.outbound_support import fields_aimed_at, install_fake_dns, recording_listener

ROOT = Path(__file__).resolve().parents[2]

REFUSED = [
    ("127.0.0.1", "a loopback address"),
    ("127.8.9.10", "a loopback address"),
    ("::1", "a loopback address"),
    ("::ffff:127.0.0.1", "a loopback address"),  # IPv4-mapped
    ("::127.0.0.1", "a loopback address"),  # IPv4-compatible (deprecated)
    ("64:ff9b::7f00:1", "a loopback address"),  # NAT64 of 127.0.0.1
    ("2002:7f00:1::", "a loopback address"),  # 6to4 of 127.0.0.1
    ("10.1.2.3", "a private-network address"),
    ("172.16.0.1", "a private-network address"),
    ("192.168.1.1", "a private-network address"),
    ("100.64.0.1", "a private-network address"),  # carrier-grade NAT
    ("fd12:3456::1", "a private-network address"),
    ("::ffff:10.0.0.1", "a private-network address"),
    ("192.0.2.1", "a reserved or special-purpose address"),
    ("198.18.0.1", "a reserved or special-purpose address"),
    ("240.0.0.1", "a reserved or special-purpose address"),
    ("2001:db8::1", "a reserved or special-purpose address"),
]
ALWAYS_REFUSED = [
    ("169.254.169.254", "a link-local address"),
    ("::ffff:169.254.169.254", "a link-local address"),
    ("fe80::1", "a link-local address"),
    ("fd00:ec2::254", "a cloud metadata address"),
    ("100.100.100.200", "a cloud metadata address"),
    ("168.63.129.16", "a cloud metadata address"),
    ("0.0.0.0", "an unspecified address"),  # noqa: S104  (Linux connects it to loopback)
    ("::", "an unspecified address"),
    ("224.0.0.1", "a multicast or broadcast address"),
    ("255.255.255.255", "a multicast or broadcast address"),
    ("ff02::1", "a multicast or broadcast address"),
]
PUBLIC = ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8"]


@pytest.fixture
def nothing_listed(settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    settings.DEBUG = False
    return settings


# --- The policy -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("address", "reason"), REFUSED + ALWAYS_REFUSED)
def test_special_addresses_are_refused_outside_debug(nothing_listed, address, reason):
    with pytest.raises(DestinationRefused) as caught:
        outbound.resolve(address, 443)
    assert str(caught.value).startswith(f"{address} is {reason}")


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are_allowed_and_connected_to_as_given(nothing_listed, address):
    destination = outbound.resolve(address, 443)
    assert (destination.host, destination.port) == (address, 443)
    assert ipaddress.ip_address(destination.address) == ipaddress.ip_address(address)


@pytest.mark.parametrize(("address", "reason"), ALWAYS_REFUSED)
def test_link_local_and_metadata_stay_refused_in_debug_and_when_listed(settings, address, reason):
    settings.DEBUG = True
    settings.OUTBOUND_ALLOWED_NETWORKS = ["0.0.0.0/0", "::/0", "169.254.0.0/16", "fe80::/10"]
    with pytest.raises(DestinationRefused, match="refused in every mode"):
        outbound.resolve(address, 80)


def test_debug_allows_loopback_and_private_but_not_reserved(settings):
    settings.DEBUG = True
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    for address in ("127.0.0.1", "::1", "10.1.2.3", "192.168.1.1", "fd12::1", "::ffff:127.0.0.1"):
        assert ipaddress.ip_address(outbound.resolve(address, 80).address) == ipaddress.ip_address(address)
    with pytest.raises(DestinationRefused, match="reserved"):
        outbound.resolve("192.0.2.1", 80)


def test_a_listed_network_is_allowed_and_only_it(settings):
    settings.DEBUG = False
    settings.OUTBOUND_ALLOWED_NETWORKS = ["10.20.0.0/16", "fd00:1::/32", "192.0.2.0/24"]
    assert outbound.resolve("10.20.3.4", 5432).address == "10.20.3.4"
    assert outbound.resolve("::ffff:10.20.3.4", 5432).address == "::ffff:a14:304"
    assert outbound.resolve("fd00:1::5", 5432).address == "fd00:1::5"
    assert outbound.resolve("192.0.2.7", 5432).address == "192.0.2.7"
    for refused in ("10.21.0.1", "127.0.0.1", "fd00:2::5"):
        with pytest.raises(DestinationRefused, match="OUTBOUND_ALLOWED_NETWORKS"):
            outbound.resolve(refused, 5432)


def test_a_name_is_judged_by_every_address_it_resolves_to(nothing_listed, monkeypatch):
    install_fake_dns(
        monkeypatch,
        {"intranet.example": [["10.0.0.5"]], "mixed.example": [["93.184.216.34", "127.0.0.1"]]},
    )
    with pytest.raises(DestinationRefused) as caught:
        outbound.resolve("intranet.example", 443)
    assert str(caught.value).startswith("'intranet.example' resolves to a private-network address")
    # One public answer does not excuse a loopback one beside it.
    with pytest.raises(DestinationRefused, match=r"'mixed\.example' resolves to a loopback address"):
        outbound.resolve("mixed.example", 443)


def test_localhost_is_refused_through_the_real_resolver(nothing_listed):
    with pytest.raises(DestinationRefused, match="'localhost' resolves to a loopback address"):
        outbound.resolve("localhost", 80)


def test_a_name_that_does_not_resolve_is_a_clear_failure(nothing_listed):
    with pytest.raises(outbound.UnresolvableHost, match=r"Could not resolve host 'no-such-host\.invalid'"):
        outbound.resolve("no-such-host.invalid", 443)


def test_the_refusal_is_the_same_whether_or_not_anything_listens(nothing_listed):
    closed = servers.free_port()
    with recording_listener() as listener:
        said = [str(_refusal(outbound.resolve, "127.0.0.1", port)) for port in (listener.port, closed)]
    assert said[0] == said[1]
    assert not listener.connections


def test_ip_literals_are_judged_without_resolving(nothing_listed, monkeypatch):
    resolver = install_fake_dns(monkeypatch, {})
    with pytest.raises(DestinationRefused, match=r"169\.254\.169\.254 is a link-local address"):
        outbound.check_literal("169.254.169.254")
    outbound.check_literal("93.184.216.34")
    outbound.check_literal("git.example.com")  # a name: judged when it is resolved, at each use
    assert resolver.calls == []


# --- The setting --------------------------------------------------------------------------------------


def test_networks_are_parsed_into_canonical_cidrs():
    assert outbound.parse_networks(["10.0.0.0/8", " 192.168.1.7 ", "FD00::/8", "::1"]) == [
        "10.0.0.0/8",
        "192.168.1.7/32",
        "fd00::/8",
        "::1/128",
    ]


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ("10.0.0.0/33", "is not a network"),
        ("intranet", "is not a network"),
        ("10.0.0.1/8", "has host bits set: did you mean 10.0.0.0/8?"),
        ("169.254.0.0/16", "refused in every mode"),
        ("fe80::/64", "refused in every mode"),
        ("169.254.169.254", "refused in every mode"),
    ],
)
def test_a_bad_network_stops_the_start(entry, problem):
    with pytest.raises(ImproperlyConfigured) as caught:
        outbound.parse_networks(["127.0.0.0/8", entry])
    assert f"OUTBOUND_ALLOWED_NETWORKS entry 2 ('{entry}')" in str(caught.value)
    assert problem in str(caught.value)


def test_a_bad_network_in_the_environment_stops_the_process():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "OUTBOUND_ALLOWED_NETWORKS": "10.0.0.0/33"}
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and "OUTBOUND_ALLOWED_NETWORKS entry 1" in result.stderr


# --- Inside the testers: refused before connecting, and pinned to the one address judged ------------

TOKEN = f"tok-{uuid.uuid4().hex}"


def _secret(type_slug: str, values: dict, hosts: tuple[str, ...]) -> RevealedSecret:
    from credentials.types import get_type

    return RevealedSecret(
        credential_id=uuid.uuid4(),
        type_slug=type_slug,
        values=values,
        secret_names=tuple(get_type(type_slug).secret_field_names),
        allowed_hosts=hosts,
    )


TESTERS = {"http_bearer": BearerTester, "postgres": PostgresTester, "redis": RedisTester, "ssh_key": SSHKeyTester}


def _test(type_slug: str, host: str, port: int):
    secret = _secret(type_slug, fields_aimed_at(type_slug, host, port, TOKEN), hosts=(normalise_host(host),))
    return TESTERS[type_slug]().test(secret, Redactor(secret.secret_values))


@pytest.mark.parametrize("type_slug", list(TESTERS))
@pytest.mark.parametrize("address", ["127.0.0.1", "::ffff:127.0.0.1"])
def test_every_tester_refuses_loopback_before_connecting(nothing_listed, type_slug, address):
    with recording_listener() as listener:
        outcome = _test(type_slug, address, listener.port)
    assert not outcome.passed
    assert outcome.message.startswith(f"Refused before connecting: {address} is a loopback address"), outcome.message
    assert not listener.connections


@pytest.mark.parametrize("type_slug", list(TESTERS))
def test_every_tester_refuses_the_metadata_address_even_in_debug(settings, type_slug, monkeypatch):
    settings.DEBUG = True
    settings.OUTBOUND_ALLOWED_NETWORKS = ["0.0.0.0/0"]
    resolver = install_fake_dns(monkeypatch, {"metadata.example": [["169.254.169.254"]]})
    outcome = _test(type_slug, "metadata.example", 80)
    assert outcome.message.startswith("Refused before connecting: 'metadata.example' resolves to a link-local")
    assert resolver.calls == ["metadata.example"]


@pytest.mark.parametrize("type_slug", list(TESTERS))
def test_every_tester_resolves_once_and_connects_to_that_address(settings, type_slug, monkeypatch):
    """DNS rebinding: the first answer is loopback (listed), later ones the metadata address.

    Only the first is ever used: the listener on it sees the connection, and nothing asks again.
    """
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    resolver = install_fake_dns(monkeypatch, {"rebind.example": [["127.0.0.1"], ["169.254.169.254"]]})
    with recording_listener() as listener:
        outcome = _test(type_slug, "rebind.example", listener.port)
    assert "Refused" not in outcome.message
    assert "resolve" not in outcome.message.lower(), outcome.message
    assert listener.connections, outcome.message
    assert resolver.calls == ["rebind.example"]


def test_an_http_test_keeps_the_name_in_the_host_header(settings, monkeypatch):
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    forge = servers.FakeForge(token=TOKEN)
    resolver = install_fake_dns(monkeypatch, {"api.rebind.example": [["127.0.0.1"], ["10.9.9.9"]]})
    with servers.http_server(forge) as port:
        values = {"base_url": f"http://api.rebind.example:{port}", "token": TOKEN, "test_path": "/check/bearer"}
        secret = _secret("http_bearer", values, hosts=("api.rebind.example",))
        outcome = BearerTester().test(secret, Redactor(secret.secret_values))
    assert outcome.passed, outcome.message
    assert forge.requests[-1][2]["Host"] == f"api.rebind.example:{port}"
    assert resolver.calls == ["api.rebind.example"]


def _refusal(call, *args) -> DestinationRefused:
    with pytest.raises(DestinationRefused) as caught:
        call(*args)
    return caught.value


def test_a_refused_connection_is_said_in_words_naming_where(settings):
    port = servers.free_port()  # nothing listens there once the probe is closed
    with pytest.raises(outbound.ConnectionFailed) as failed:
        outbound.connect(outbound.Destination(host="db.internal", port=port, address="127.0.0.1"), 2.0)
    assert (
        failed.value.strerror
        == f"Could not connect to db.internal:{port}: nothing accepts connections there (connection refused)."
    )
    assert (
        outbound.plain_reason(socket.gaierror(-2, "Name or service not known"))
        == "the server's name could not be resolved"
    )
