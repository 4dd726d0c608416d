"""Host keys to pin (credentials/hostkeys.py): the published presets, the input's ceilings, the API's answers.

The fetch against a real sshd, and the outbound policy's refusals, are in tests/integration/test_hostkeys.py.
"""

from __future__ import annotations

import base64
import hashlib

import pytest
from rest_framework.test import APIClient

from credentials import hostkeys
from credentials.hostkeys import PRESETS, HostKeyFetchFailed, fetch_host_keys
from credentials.types.ssh import parse_host_keys
from tests.factories import make_user

pytestmark = pytest.mark.django_db

# The SHA256 fingerprints GitHub and GitLab publish beside their keys (docs.github.com, "GitHub's SSH
# key fingerprints"; docs.gitlab.com, "SSH host keys fingerprints").
PUBLISHED = {
    "github.com": {
        "ssh-ed25519": "SHA256:+DiY3wvvV6TuJJhbpZisF/zLDA0zPMSvHdkr4UvCOqU",
        "ecdsa-sha2-nistp256": "SHA256:p2QAMXNIC1TJYWeIOttrVc98/R1BUFWu3/LiyKgUfQM",
        "ssh-rsa": "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s",
    },
    "gitlab.com": {
        "ssh-ed25519": "SHA256:eUXGGm1YGsMAS7vkcx6JOJdOGHPem5gQp4taiCfCLB8",
        "ecdsa-sha2-nistp256": "SHA256:HbW3g8zUjNSksFbqTiUWPWg2Bq1x8xdGUrliXFzSnUw",
        "ssh-rsa": "SHA256:ROQFvPThGrW4RuWLoL9tq9I9zJ42fK4XywyRtbOz/EQ",
    },
}


def _fingerprint_of(line: str) -> str:
    """What ssh-keygen -lf prints, computed here from the line alone: SHA256 of the key blob, unpadded base64."""
    blob = base64.b64decode(line.split()[2])
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def test_each_preset_line_has_the_published_fingerprint():
    assert {preset.host for preset in PRESETS} == set(PUBLISHED)
    for preset in PRESETS:
        assert {key.key_type: _fingerprint_of(key.line) for key in preset.keys} == PUBLISHED[preset.host]
        assert {key.key_type: key.fingerprint for key in preset.keys} == PUBLISHED[preset.host]
        assert preset.source.startswith("https://")


def test_preset_lines_pin_as_they_are():
    for preset in PRESETS:
        pinned = parse_host_keys("\n".join(key.line for key in preset.keys))
        assert {p.hosts for p in pinned} == {(preset.host,)}
        assert {p.fingerprint for p in pinned} == set(PUBLISHED[preset.host].values())


@pytest.mark.parametrize(
    ("host", "port", "field", "message"),
    [
        ("", 22, "host", "Enter a host name"),
        ("a" * 254, 22, "host", "at most 253 characters"),
        ("not a host", 22, "host", "is not a host name"),
        ("git.example.com", 0, "port", "from 1 to 65535"),
        ("git.example.com", 70000, "port", "from 1 to 65535"),
    ],
)
def test_bad_input_is_refused_before_any_lookup(monkeypatch, host, port, field, message):
    monkeypatch.setattr(hostkeys.outbound, "lookup_addresses", _never)
    with pytest.raises(HostKeyFetchFailed, match=message) as caught:
        fetch_host_keys(actor=make_user(), host=host, port=port)
    assert caught.value.field == field


def _never(*args, **kwargs):
    raise AssertionError("nothing may be looked up or connected to")


def test_an_inactive_user_fetches_nothing(monkeypatch):
    monkeypatch.setattr(hostkeys.outbound, "lookup_addresses", _never)
    with pytest.raises(HostKeyFetchFailed, match="Sign in"):
        fetch_host_keys(actor=make_user(is_active=False), host="git.example.com")


def test_handshakes_are_one_per_key_type_and_held_to_the_time_ceiling(monkeypatch):
    """However slowly the server answers, the handshakes stop at the total time; each gets at most its share."""
    clock = [0.0]
    handshakes: list[tuple[tuple[str, ...], float]] = []

    def slow_handshake(destination, key_types, timeout):
        handshakes.append((key_types, timeout))
        clock[0] += 6.0  # longer than one handshake may take
        raise TimeoutError

    monkeypatch.setattr(hostkeys.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(hostkeys, "_handshake", slow_handshake)
    with pytest.raises(HostKeyFetchFailed, match="did not answer within"):
        fetch_host_keys(actor=make_user(), host="93.184.215.14")
    assert len(handshakes) == 1  # nothing answers the first: no second try

    keys = iter([_key("ssh-ed25519")])

    def one_key_then_slow(destination, key_types, timeout):
        handshakes.append((key_types, timeout))
        clock[0] += 6.0
        key = next(keys, None)
        if key is None:
            raise TimeoutError
        return key

    handshakes.clear()
    monkeypatch.setattr(hostkeys, "_handshake", one_key_then_slow)
    offered = fetch_host_keys(actor=make_user(), host="93.184.215.14")
    assert [key.key_type for key in offered] == ["ssh-ed25519"]
    assert len(handshakes) <= len(hostkeys.KEY_TYPE_GROUPS)
    assert all(timeout <= hostkeys.HANDSHAKE_SECONDS for _, timeout in handshakes)
    assert clock[0] - 12.0 <= hostkeys.TOTAL_SECONDS + hostkeys.HANDSHAKE_SECONDS


def _key(key_type: str):
    import paramiko

    preset = {key.key_type: key for key in PRESETS[0].keys}[key_type]
    return paramiko.PKey.from_type_string(key_type, base64.b64decode(preset.line.split()[2]))


# --- the API -------------------------------------------------------------------------------------


@pytest.fixture
def client():
    client = APIClient()
    client.force_authenticate(make_user())
    return client


def test_anonymous_callers_are_refused():
    assert APIClient().post("/api/ssh/host-keys/", {"host": "github.com"}, format="json").status_code == 401
    assert APIClient().get("/api/ssh/host-keys/presets/").status_code == 401


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "host"),
        ({"host": 5}, "host"),
        ({"host": "a" * 254}, "host"),
        ({"host": "not a host"}, "host"),
        ({"host": "github.com", "port": 0}, "port"),
        ({"host": "github.com", "port": "many"}, "port"),
        ({"host": "github.com", "user": "git"}, "user"),
        ({"host": "169.254.169.254"}, "host"),
        ({"host": "127.0.0.1", "port": 22}, "host"),
    ],
)
def test_bad_input_is_a_400_on_its_field(client, settings, monkeypatch, body, field):
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    monkeypatch.setattr(hostkeys, "_handshake", _never)
    response = client.post("/api/ssh/host-keys/", body, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "invalid"
    messages = response.json()["errors"][field]
    assert messages and all(isinstance(m, str) and m for m in messages)


def test_the_answer_lists_each_key_with_its_fingerprint(client, monkeypatch):
    monkeypatch.setattr(hostkeys.outbound, "lookup_addresses", lambda host, port: ["93.184.215.14"])
    served = {"ssh-ed25519": _key("ssh-ed25519"), "ecdsa-sha2-nistp256": _key("ecdsa-sha2-nistp256")}
    monkeypatch.setattr(hostkeys, "_handshake", lambda destination, key_types, timeout: _offer(served, key_types))
    response = client.post("/api/ssh/host-keys/", {"host": "git.example.com", "port": 2222}, format="json")
    assert response.status_code == 200, response.content
    assert response.json() == {
        "keys": [
            {
                "line": f"[git.example.com]:2222 {name} {key.get_base64()}",
                "type": name,
                "fingerprint": PUBLISHED["github.com"][name],
            }
            for name, key in served.items()
        ]
    }


def _offer(served, key_types):
    import paramiko

    for key_type in key_types:
        if key_type in served:
            return served[key_type]
    raise paramiko.SSHException("Incompatible ssh peer (no acceptable host key)")


def test_the_fetch_is_rate_limited_per_user(client, settings, monkeypatch):
    monkeypatch.setattr(hostkeys, "_handshake", _never)
    limit = int(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["ssh_host_keys"].split("/")[0])
    for _ in range(limit):
        assert client.post("/api/ssh/host-keys/", {"host": "169.254.169.254"}, format="json").status_code == 400
    throttled = client.post("/api/ssh/host-keys/", {"host": "169.254.169.254"}, format="json")
    assert throttled.status_code == 429 and throttled.json()["code"] == "throttled"
    other = APIClient()
    other.force_authenticate(make_user())
    assert other.post("/api/ssh/host-keys/", {"host": "169.254.169.254"}, format="json").status_code == 400


def test_presets_are_served_with_their_fingerprints(client):
    response = client.get("/api/ssh/host-keys/presets/")
    assert response.status_code == 200
    served = {preset["host"]: {key["type"]: key["fingerprint"] for key in preset["keys"]} for preset in response.json()}
    assert served == PUBLISHED
    assert {preset["host"]: preset["documentation"] for preset in response.json()} == {
        preset.host: preset.source for preset in PRESETS
    }
