"""No request forgery, through the real faces: the API, a real worker that lists no network, real servers.

The worker here runs with ``OUTBOUND_ALLOWED_NETWORKS`` empty (as production does by default), so
loopback is refused there; the servers listen on loopback and record that nothing reached them.
Also here: an HTTPS test verifies TLS against the host's name while connecting to the address
judged, and a sync does not obey settings planted in its checkout's ``.git/config``.
"""

from __future__ import annotations

import ssl
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from credentials.door import RevealedSecret
from credentials.redaction import Redactor
from credentials.services import credential_create
from credentials.testers.database import RedisTester
from credentials.testers.web import BearerTester
from plugins.paths import checkout_path
from tests.integration import git_servers, servers
from tests.integration.conftest import wait_for_result
from tests.integration.plugins_support import environment, https_token, register, ssh_credential, sync, wait_for
from tests.outbound_support import fields_aimed_at, install_fake_dns, recording_listener

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180), pytest.mark.django_db(transaction=True)]

SECRET = f"secret-{uuid.uuid4().hex}"
LOOPBACK_REFUSED = "Refused before connecting: 127.0.0.1 is a loopback address"


@pytest.fixture(scope="module")
def refusing_worker(broker, test_database_url, tmp_path_factory) -> Iterator[servers.Worker]:
    """A worker whose OUTBOUND_ALLOWED_NETWORKS is empty: loopback is refused there, as in production."""
    from config.celery import app

    app.control.purge()
    log = tmp_path_factory.mktemp("refusing-worker") / "worker.log"
    with environment(OUTBOUND_ALLOWED_NETWORKS=""):
        worker = servers.start_worker(database_url=test_database_url, broker_url=broker, log=log)
    yield worker
    servers.stop(worker.process, group=True)


@pytest.fixture
def api(owner) -> APIClient:
    client = APIClient()
    client.force_authenticate(owner)
    return client


def _tested(api: APIClient, owner, type_slug: str, host: str, port: int):
    credential = credential_create(
        actor=owner,
        type_slug=type_slug,
        name=f"{type_slug}-{uuid.uuid4().hex[:6]}",
        fields=fields_aimed_at(type_slug, host, port, SECRET),
    )
    assert api.post(f"/api/credentials/{credential.pk}/test/").status_code == 202
    return wait_for_result(credential.pk)


@pytest.mark.parametrize("type_slug", ["http_bearer", "postgres", "redis", "ssh_key"])
def test_a_credential_test_against_loopback_is_refused_and_connects_nowhere(refusing_worker, api, owner, type_slug):
    with recording_listener() as listener:
        result = _tested(api, owner, type_slug, servers.LOOPBACK, listener.port)
    assert result.test_status == "failed"
    assert result.test_message.startswith(LOOPBACK_REFUSED), result.test_message
    assert "OUTBOUND_ALLOWED_NETWORKS" in result.test_message
    assert not listener.connections
    assert api.get(f"/api/credentials/{result.pk}/").json()["test_message"] == result.test_message


def test_a_credential_test_against_the_metadata_address_is_refused(refusing_worker, api, owner):
    result = _tested(api, owner, "http_bearer", "169.254.169.254", 80)
    assert result.test_status == "failed"
    assert result.test_message.startswith("Refused before connecting: 169.254.169.254 is a link-local address")
    assert "refused in every mode" in result.test_message


def test_the_refusal_says_the_same_for_an_open_and_a_closed_port(refusing_worker, api, owner):
    closed = servers.free_port()
    with recording_listener() as listener:
        said = [
            _tested(api, owner, "postgres", servers.LOOPBACK, port).test_message for port in (listener.port, closed)
        ]
    assert said[0] == said[1]
    assert not listener.connections


def test_a_sync_whose_host_resolves_to_loopback_fails_without_connecting(refusing_worker, git_https, api, owner):
    port = git_https.server.port
    fields = {"token": git_https.token, "base_url": f"https://localhost:{port}"}
    credential = credential_create(actor=owner, type_slug="github_pat", name="by-name", fields=fields)
    before = len(git_https.server.requests)

    plugin = wait_for(
        register(api, repo_url=f"https://localhost:{port}/private/plugin.git", credential=str(credential.pk))
    )

    assert plugin.status == "failed"
    assert plugin.last_error.startswith("Refused before connecting: 'localhost' resolves to a loopback address")
    assert len(git_https.server.requests) == before
    assert not checkout_path(plugin.pk).exists()


def test_an_ssh_sync_to_a_loopback_address_fails_without_connecting(refusing_worker, git_ssh, api, owner):
    with recording_listener() as listener:
        name = f"[{servers.LOOPBACK}]:{listener.port}"
        pinned = f"{name} {' '.join(git_ssh.host_key_line.split()[1:])}"
        credential = ssh_credential(owner, git_ssh, host_keys=pinned)
        url = f"ssh://git@{servers.LOOPBACK}:{listener.port}/repo.git"
        # Registered while loopback is listed here (this process's settings); the worker refuses it.
        plugin = wait_for(register(api, repo_url=url, credential=str(credential.pk)))
    assert plugin.status == "failed"
    assert plugin.last_error.startswith(LOOPBACK_REFUSED), plugin.last_error
    assert not listener.connections


# --- HTTPS tests: the connection goes to the address judged, TLS is verified against the name -------


@pytest.fixture
def trust_test_ca(git_https, monkeypatch):
    from credentials.testers import http

    system_context = ssl.create_default_context
    monkeypatch.setattr(http.ssl, "create_default_context", lambda: system_context(cafile=git_https.ca_file))


def _https_test(git_https, name: str):
    base_url = f"https://{name}:{git_https.server.port}"
    values = {"base_url": base_url, "token": SECRET, "test_path": "/public/nothing-here"}
    secret = RevealedSecret(
        credential_id=uuid.uuid4(),
        type_slug="http_bearer",
        values=values,
        secret_names=("token",),
        allowed_hosts=(name,),
    )
    return BearerTester().test(secret, Redactor([SECRET]))


def test_an_https_test_verifies_the_name_while_connecting_to_the_pinned_address(
    git_https, trust_test_ca, monkeypatch, settings
):
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    # The server's certificate names git.latchkey.test, which no real resolver knows: only the pin reaches it.
    resolver = install_fake_dns(
        monkeypatch,
        {"git.latchkey.test": [[servers.LOOPBACK], ["169.254.169.254"]], "other.latchkey.test": [[servers.LOOPBACK]]},
    )
    before = len(git_https.server.requests)

    good = _https_test(git_https, "git.latchkey.test")
    # Same address, a name the certificate does not hold: verification is against the name, not the address.
    mismatch = _https_test(git_https, "other.latchkey.test")

    assert "answered 404" in good.message, good.message
    assert git_https.server.requests[before].host == f"git.latchkey.test:{git_https.server.port}"
    assert not mismatch.passed and "TLS with other.latchkey.test failed" in mismatch.message, mismatch.message
    assert resolver.calls == ["git.latchkey.test", "other.latchkey.test"]


def test_a_redis_test_over_tls_verifies_the_name_while_connecting_to_the_pinned_address(
    git_https, monkeypatch, settings
):
    """The HTTPS git server stands in for a TLS server: what matters is whose certificate check passes."""
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    install_fake_dns(
        monkeypatch, {"git.latchkey.test": [[servers.LOOPBACK]], "other.latchkey.test": [[servers.LOOPBACK]]}
    )
    ca = git_https.ca_file.read_text()

    def tested(name: str):
        values = {"host": name, "port": git_https.server.port, "password": SECRET, "tls": True, "tls_ca_cert": ca}
        secret = RevealedSecret(
            credential_id=uuid.uuid4(), type_slug="redis", values=values, secret_names=("password",),
            allowed_hosts=(name,),
        )  # fmt: skip
        return RedisTester().test(secret, Redactor([SECRET]))

    good, mismatch = tested("git.latchkey.test"), tested("other.latchkey.test")

    # Past TLS, the server speaks HTTP, not Redis: a protocol failure, not a certificate one.
    assert "certificate" not in good.message.lower(), good.message
    assert "Could not reach Redis at git.latchkey.test" in good.message
    assert "Hostname mismatch, certificate is not valid for 'other.latchkey.test'" in mismatch.message


# --- A sync does not obey what was planted in its checkout's .git/config ----------------------------


@pytest.fixture
def in_process(eager_tasks, git_https, settings):
    settings.PLUGINS_GIT_CA_FILE = str(git_https.ca_file)


def _plant(checkout: Path, markers: Path, *, decoy_url: str, proxy_port: int, origin: str) -> None:
    """What someone who could write the checkout might leave there, each run asking to touch a marker."""
    git_dir = checkout / ".git"
    hooks = markers / "hooks"
    hooks.mkdir()
    (git_dir / "hooks").mkdir(exist_ok=True)  # our clones have none (no template)
    for hook in ("post-checkout", "reference-transaction", "pre-auto-gc"):
        script = hooks / hook
        script.write_text(f"#!/bin/sh\ntouch {markers}/hooks-path-{hook}\n")
        script.chmod(stat.S_IRWXU)
        own = git_dir / "hooks" / hook
        own.write_text(f"#!/bin/sh\ntouch {markers}/own-{hook}\n")
        own.chmod(stat.S_IRWXU)
    included = markers / "included.config"
    included.write_text(f"[core]\n\tpager = touch {markers}/included\n")
    (git_dir / "info").mkdir(exist_ok=True)
    (git_dir / "info" / "attributes").write_text("* filter=evil\n")
    with (git_dir / "config").open("a") as config:
        config.write(
            f"[core]\n\tsshCommand = touch {markers}/ssh-command\n\tfsmonitor = touch {markers}/fsmonitor\n"
            f"\thooksPath = {hooks}\n\taskPass = touch {markers}/askpass\n"
            f"[credential]\n\thelper = !touch {markers}/credential-helper\n"
            f"[http]\n\tproxy = http://{servers.LOOPBACK}:{proxy_port}\n\tsslVerify = false\n"
            f'[url "{decoy_url}"]\n\tinsteadOf = {origin}\n'
            f'[remote "origin"]\n\turl = {decoy_url}\n'
            f'[filter "evil"]\n\tsmudge = touch {markers}/filter; cat\n\tclean = cat\n\trequired = true\n'
            f"[include]\n\tpath = {included}\n"
        )


def test_a_sync_ignores_settings_planted_in_the_checkouts_git_config(in_process, git_https, api, owner, tmp_path):
    url, _ = git_https.server.repository(f"tamper-{uuid.uuid4().hex[:6]}.git", branches=(), tags=())
    plugin_id = register(api, repo_url=url, credential=str(https_token(owner, git_https).pk))
    assert wait_for(plugin_id).status == "installed"
    checkout = checkout_path(plugin_id)
    markers = tmp_path / "markers"
    markers.mkdir()
    pushed = git_servers.add_commit(git_https.server.path_of(url), files={"dir0/file0.txt": "changed\n"})

    with recording_listener() as proxy:
        _plant(checkout, markers, decoy_url=git_https.private_url, proxy_port=proxy.port, origin=url)
        plugin = sync(api, plugin_id)

    assert plugin.status == "installed", plugin.last_error
    assert plugin.commit == pushed  # from its own origin, not the decoy
    assert (checkout / "dir0" / "file0.txt").read_text() == "changed\n"
    assert sorted(path.name for path in markers.iterdir()) == ["hooks", "included.config"]  # nothing ran
    assert not proxy.connections
    config = (checkout / ".git" / "config").read_text()
    assert f"url = {url}" in config or f'url = "{url}"' in config
    for planted in ("insteadof", "proxy", "sshcommand", "fsmonitor", "hookspath", "helper", "filter", "include"):
        assert planted not in config.lower()
    assert not (checkout / ".git" / "hooks").exists() and not (checkout / ".git" / "info").exists()


def test_a_sync_into_a_checkout_whose_git_directory_is_a_link_clones_afresh(
    in_process, git_https, api, owner, tmp_path
):
    url, refs = git_https.server.repository(f"relinked-{uuid.uuid4().hex[:6]}.git", branches=(), tags=())
    plugin_id = register(api, repo_url=url, credential=str(https_token(owner, git_https).pk))
    assert wait_for(plugin_id).status == "installed"
    checkout = checkout_path(plugin_id)
    elsewhere = tmp_path / "elsewhere.git"
    (checkout / ".git").rename(elsewhere)
    (checkout / ".git").symlink_to(elsewhere)

    plugin = sync(api, plugin_id)

    assert plugin.status == "installed", plugin.last_error
    assert plugin.commit == refs["main"]
    assert (checkout / ".git").is_dir() and not (checkout / ".git").is_symlink()
