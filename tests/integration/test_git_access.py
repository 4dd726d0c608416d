"""plugins/git/command.py against real git servers on loopback: git http-backend behind TLS, and OpenSSH's sshd."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from credentials.door import RevealedSecret
from credentials.errors import DestinationRefused
from credentials.redaction import Redactor
from plugins.git.command import (
    GitError,
    GitHostKeyError,
    HTTPSAuth,
    SSHAuth,
    auth_for,
    clone,
    fetch_and_checkout,
    parse_repo_url,
)
from tests.canary import forms_of
from tests.integration import git_servers
from tests.integration.servers import silent_server
from tests.outbound_support import install_fake_dns, recording_listener
from tests.proc_sampler import ProcSampler

pytestmark = pytest.mark.integration

LOOPBACK = ("127.0.0.1",)


@pytest.fixture(autouse=True)
def _trust_test_ca(request, settings):
    """git trusts the HTTPS server's own CA, through the setting plugins/git/command.py reads."""
    if "git_https" in request.fixturenames:
        settings.PLUGINS_GIT_CA_FILE = str(request.getfixturevalue("git_https").ca_file)


def token_secret(token: str, *, hosts: tuple[str, ...] = LOOPBACK) -> RevealedSecret:
    return RevealedSecret(
        credential_id=uuid.uuid4(),
        type_slug="github_pat",
        values={"token": token, "base_url": "https://127.0.0.1/api/v3"},
        secret_names=("token",),
        allowed_hosts=hosts,
    )


def key_secret(
    private_key: str, host_keys: str, *, passphrase: str = "", username: str = "git", hosts=LOOPBACK
) -> RevealedSecret:
    return RevealedSecret(
        credential_id=uuid.uuid4(),
        type_slug="ssh_key",
        values={"username": username, "private_key": private_key, "passphrase": passphrase, "host_keys": host_keys},
        secret_names=("private_key", "passphrase"),
        allowed_hosts=hosts,
    )


def other_host_key(name: str) -> str:
    """A known_hosts line for ``name`` with a key that is not the server's."""
    public = git_servers.make_ssh_key().public_line.split()
    return f"{name} {public[0]} {public[1]}"


class Run:
    """One operation's private work directory (0700, as the caller makes it), checked clean afterwards."""

    def __init__(self, tmp_path: Path, name: str = "work"):
        self.work_dir = tmp_path / name
        self.work_dir.mkdir(mode=0o700)
        self.destination = tmp_path / "checkout"
        self.redactor = Redactor()

    def clone(self, url: str, secret: RevealedSecret | None, *, ref: str = "", timeout: float = 60) -> str:
        location = parse_repo_url(url)
        auth = auth_for(secret, location, self.redactor)
        try:
            return clone(
                location=location,
                ref=ref,
                destination=self.destination,
                auth=auth,
                redactor=self.redactor,
                work_dir=self.work_dir,
                timeout=timeout,
            )
        finally:
            self.assert_clean()

    def fetch(self, url: str, secret: RevealedSecret | None, *, ref: str = "") -> str:
        location = parse_repo_url(url)
        auth = auth_for(secret, location, self.redactor)
        try:
            return fetch_and_checkout(
                location=location,
                ref=ref,
                checkout=self.destination,
                auth=auth,
                redactor=self.redactor,
                work_dir=self.work_dir,
                timeout=60,
            )
        finally:
            self.assert_clean()

    def assert_clean(self) -> None:
        """No private key in any file the operation left, and no agent still serving its socket."""
        for path in self.work_dir.rglob("*"):
            if path.is_file():
                assert b"PRIVATE KEY" not in path.read_bytes(), path
        assert not agents_serving(self.work_dir)


def agents_serving(work_dir: Path) -> list[int]:
    socket_path = str(work_dir / "agent.sock").encode()
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                cmdline = Path(f"/proc/{name}/cmdline").read_bytes()
            except OSError:
                continue
            if b"ssh-agent" in cmdline and socket_path in cmdline:
                found.append(int(name))
    return found


def head_commit(repo: Path) -> tuple[str, bool]:
    """(HEAD's commit, whether HEAD is detached)."""
    env = git_servers.git_environment(GIT_DIR=str(repo / ".git"))
    commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, env=env, check=True)
    symbolic = subprocess.run(["git", "symbolic-ref", "-q", "HEAD"], capture_output=True, env=env, check=False)
    return commit.stdout.strip(), symbolic.returncode != 0


def all_bytes(directory: Path) -> bytes:
    return b"\n".join(path.read_bytes() for path in directory.rglob("*") if path.is_file() and not path.is_symlink())


def key_needles(private_key: str) -> list[str]:
    """The key text and each line of its base64 body: a leak of any part of it counts."""
    return [private_key, *(line for line in private_key.splitlines() if len(line) >= 40)]


# --- HTTPS ------------------------------------------------------------------------------------------


def test_https_clone_checks_out_the_default_branch_detached(git_https, tmp_path):
    run = Run(tmp_path)
    commit = run.clone(git_https.private_url, token_secret(git_https.token))
    assert commit == git_https.private_refs["main"]
    assert head_commit(run.destination) == (commit, True)
    assert (run.destination / "dir0" / "file0.txt").exists()


@pytest.mark.parametrize("ref", ["v1", "feature/next", "main", "commit", "short-commit"])
def test_https_clone_checks_out_a_tag_a_branch_or_a_commit(git_https, tmp_path, ref):
    refs = git_https.private_refs
    first = refs["v1"]  # the tag points at main's first commit
    wanted = {"commit": first, "short-commit": first[:7]}.get(ref, ref)
    expected = {"commit": first, "short-commit": first}.get(ref) or refs[ref]
    run = Run(tmp_path)
    assert run.clone(git_https.private_url, token_secret(git_https.token), ref=wanted) == expected
    assert head_commit(run.destination) == (expected, True)
    assert (run.destination / "feature-next.txt").exists() == (ref == "feature/next")


def test_a_missing_ref_fails_clearly_and_leaves_nothing(git_https, tmp_path):
    run = Run(tmp_path)
    with pytest.raises(GitError, match="Ref 'no-such-branch' not found"):
        run.clone(git_https.private_url, token_secret(git_https.token), ref="no-such-branch")
    assert not run.destination.exists()


def test_a_wrong_token_fails_clearly_without_showing_it(git_https, tmp_path):
    wrong = "lk-wrong-" + uuid.uuid4().hex
    run = Run(tmp_path)
    with pytest.raises(GitError) as caught:
        run.clone(git_https.private_url, token_secret(wrong))
    message = str(caught.value) + caught.value.detail
    assert "Authentication failed" in str(caught.value)
    for needle in forms_of(wrong) | forms_of(f"x-access-token:{wrong}"):
        assert needle not in message
    assert not run.destination.exists()


def test_what_a_careless_server_echoes_is_redacted(git_https, tmp_path):
    # The server answers a wrong token with 403 and a body repeating the Authorization header sent,
    # which git prints as "remote: ...": only the redactor stands between it and the message.
    wrong = "lk-wrong-" + uuid.uuid4().hex
    url = git_https.server.url("careless/plugin.git")
    with pytest.raises(GitError) as caught:
        Run(tmp_path).clone(url, token_secret(wrong))
    message = str(caught.value)
    assert "Access denied (HTTP 403)" in message
    assert "Bad credentials: 'Basic ***'" in message  # the echo reached the message, redacted
    for needle in forms_of(wrong) | forms_of(f"x-access-token:{wrong}"):
        assert needle not in message + caught.value.detail


def test_a_host_not_allowed_is_refused_before_any_connection(git_https, tmp_path):
    before = len(git_https.server.requests)
    with pytest.raises(DestinationRefused, match=r"127\.0\.0\.1"):
        Run(tmp_path).clone(git_https.private_url, token_secret(git_https.token, hosts=("github.com",)))
    assert len(git_https.server.requests) == before


def test_the_token_is_nowhere_in_the_checkout(git_https, tmp_path):
    run = Run(tmp_path)
    run.clone(git_https.private_url, token_secret(git_https.token))
    config = (run.destination / ".git" / "config").read_text()
    assert f"url = {git_https.private_url}\n" in config
    everything = all_bytes(run.destination) + all_bytes(run.work_dir)
    for needle in forms_of(git_https.token) | forms_of(f"x-access-token:{git_https.token}"):
        assert needle.encode() not in everything


def test_the_token_was_sent_only_in_the_header(git_https, tmp_path):
    before = len(git_https.server.requests)
    Run(tmp_path).clone(git_https.private_url, token_secret(git_https.token))
    sent = git_https.server.requests[before:]
    assert sent and all(request.auth_ok for request in sent)
    assert all(git_https.token not in request.path for request in sent)


def test_a_public_repository_needs_no_credential(git_https, tmp_path):
    before = len(git_https.server.requests)
    run = Run(tmp_path)
    assert run.clone(git_https.public_url, None) == git_https.public_refs["main"]
    assert not any(request.auth_sent for request in git_https.server.requests[before:])


def test_a_private_repository_without_credential_asks_for_one(git_https, tmp_path):
    with pytest.raises(GitError, match="asks for a credential"):
        Run(tmp_path).clone(git_https.private_url, None)


def test_a_redirect_is_not_followed(git_https, tmp_path):
    before = len(git_https.server.requests)
    url = git_https.server.url("moved/plugin.git")
    with pytest.raises(GitError, match="redirect"):
        Run(tmp_path).clone(url, token_secret(git_https.token))
    # The redirect pointed at another origin (localhost): nothing went there.
    assert not any(request.host.startswith("localhost") for request in git_https.server.requests[before:])


def test_a_credential_of_the_wrong_kind_is_refused(git_https, git_ssh, tmp_path):
    redactor = Redactor()
    with pytest.raises(GitError, match="needs a token or password credential"):
        auth_for(
            key_secret(git_ssh.key.private_key, git_ssh.host_key_line), parse_repo_url(git_https.public_url), redactor
        )
    with pytest.raises(GitError, match="needs an SSH key credential"):
        auth_for(token_secret(git_https.token), parse_repo_url(git_ssh.url), redactor)


def test_auth_for_adds_every_sent_form_to_the_redactor(git_https):
    redactor = Redactor()
    auth = auth_for(token_secret(git_https.token), parse_repo_url(git_https.private_url), redactor)
    assert isinstance(auth, HTTPSAuth)
    assert git_https.token not in repr(auth)
    import base64

    header = base64.b64encode(f"x-access-token:{git_https.token}".encode()).decode()
    assert redactor.redact(f"Authorization: Basic {header}") == "Authorization: Basic ***"
    assert git_https.token not in redactor.redact(f"token={git_https.token}")


def test_fetch_and_checkout_follows_the_server_and_discards_local_changes(git_https, tmp_path):
    url, refs = git_https.server.repository(f"fetch-{uuid.uuid4().hex[:8]}.git")
    secret = token_secret(git_https.token)
    run = Run(tmp_path)
    assert run.clone(url, secret) == refs["main"]
    (run.destination / "dir0" / "file0.txt").write_text("changed here\n")
    (run.destination / "untracked.txt").write_text("left behind\n")
    pushed = git_servers.add_commit(git_https.server.path_of(url), files={"new.txt": "new\n"})

    assert run.fetch(url, secret) == pushed
    assert head_commit(run.destination) == (pushed, True)
    assert (run.destination / "new.txt").read_text() == "new\n"
    assert not (run.destination / "untracked.txt").exists()
    assert "changed here" not in (run.destination / "dir0" / "file0.txt").read_text()

    assert run.fetch(url, secret, ref="v1") == refs["v1"]
    assert not (run.destination / "new.txt").exists()
    assert run.fetch(url, secret, ref="feature") == refs["feature"]

    # The server's default branch changes: an empty ref follows it.
    subprocess.run(
        ["git", "symbolic-ref", "HEAD", "refs/heads/feature"],
        check=True,
        env=git_servers.git_environment(GIT_DIR=str(git_https.server.path_of(url))),
    )
    assert run.fetch(url, secret) == refs["feature"]


def test_a_timeout_kills_the_whole_git_process_tree(git_https, tmp_path):
    url = git_https.server.url("hang/plugin.git")  # accepts, never answers
    run = Run(tmp_path)
    home = f"HOME={run.work_dir}".encode()

    def ours(cmdline: str) -> bool:
        return cmdline.startswith("git")

    with ProcSampler(watch_environ=ours) as sampler, pytest.raises(GitError, match="did not finish within 2 s"):
        run.clone(url, token_secret(git_https.token), timeout=2)
    # git, and the git-remote-https it started, were both running; neither survives.
    assert sampler.saw("git clone") and sampler.saw("git-remote-https")
    assert not [pid for pid in live_pids() if home in environ_of(pid)]
    assert not run.destination.exists()


def live_pids() -> list[int]:
    pids = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                state = Path(f"/proc/{name}/stat").read_text().rsplit(")", 1)[1].split()[0]
            except (OSError, IndexError):
                continue
            if state != "Z":
                pids.append(int(name))
    return pids


def environ_of(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return b""


# --- SSH ------------------------------------------------------------------------------------------------


def test_ssh_clone_with_the_right_key(git_ssh, tmp_path):
    run = Run(tmp_path)
    secret = key_secret(git_ssh.key.private_key, git_ssh.host_key_line, username="nobody")
    # The URL's user (root) wins over the credential's user name.
    assert run.clone(git_ssh.url, secret, ref="v1") == git_ssh.refs["v1"]
    assert head_commit(run.destination) == (git_ssh.refs["v1"], True)


def test_ssh_uses_the_credentials_user_when_the_url_names_none(git_ssh, tmp_path):
    url = git_ssh.url.replace(f"{git_ssh.server.user}@", "")
    secret = key_secret(git_ssh.key.private_key, git_ssh.host_key_line, username=git_ssh.server.user)
    assert Run(tmp_path).clone(url, secret) == git_ssh.refs["main"]


def test_ssh_clone_with_a_passphrase_protected_key(git_ssh, tmp_path):
    key = git_ssh.key
    secret = key_secret(key.encrypted_private_key, git_ssh.host_key_line, passphrase=key.passphrase)
    assert Run(tmp_path).clone(git_ssh.url, secret) == git_ssh.refs["main"]


def test_ssh_work_directory_with_spaces_and_percent_signs(git_ssh, tmp_path):
    run = Run(tmp_path, name="work dir %h %%")
    assert run.clone(git_ssh.url, key_secret(git_ssh.key.private_key, git_ssh.host_key_line)) == git_ssh.refs["main"]


def test_ssh_with_a_wrong_key_fails_clearly(git_ssh, tmp_path):
    stranger = git_servers.make_ssh_key()
    run = Run(tmp_path)
    with pytest.raises(GitError) as caught:
        run.clone(git_ssh.url, key_secret(stranger.private_key, git_ssh.host_key_line))
    assert not isinstance(caught.value, GitHostKeyError)
    assert f"refused the key for user '{git_ssh.server.user}'" in str(caught.value)
    assert "PRIVATE KEY" not in str(caught.value)
    assert not run.destination.exists()


def test_ssh_to_an_unpinned_host_shows_the_offered_key(git_ssh, tmp_path):
    pinned_elsewhere = other_host_key("git.example.com")
    with pytest.raises(GitHostKeyError) as caught:
        Run(tmp_path).clone(git_ssh.url, key_secret(git_ssh.key.private_key, pinned_elsewhere))
    error = caught.value
    assert error.offered_line == git_ssh.host_key_line
    assert error.offered_fingerprint.startswith("SHA256:")
    assert error.offered_fingerprint in str(error) and git_ssh.host_key_line in str(error)
    assert "not pinned" in str(error)
    for needle in key_needles(git_ssh.key.private_key):
        assert needle not in str(error) + error.detail


def test_ssh_to_a_host_whose_key_changed_is_refused(git_ssh, tmp_path):
    name = git_ssh.host_key_line.split()[0]
    with pytest.raises(GitHostKeyError) as caught:
        Run(tmp_path).clone(git_ssh.url, key_secret(git_ssh.key.private_key, other_host_key(name)))
    assert "the key pinned for it is SHA256:" in str(caught.value)
    assert caught.value.offered_line == git_ssh.host_key_line


def test_ssh_accepts_any_of_several_keys_pinned_for_a_host(git_ssh, tmp_path):
    name = git_ssh.host_key_line.split()[0]
    pinned = "\n".join([other_host_key(name), git_ssh.host_key_line, other_host_key("git.example.com")])
    assert Run(tmp_path).clone(git_ssh.url, key_secret(git_ssh.key.private_key, pinned)) == git_ssh.refs["main"]


def test_ssh_host_not_allowed_is_refused(git_ssh, tmp_path):
    secret = key_secret(git_ssh.key.private_key, git_ssh.host_key_line, hosts=("git.example.com",))
    with pytest.raises(DestinationRefused):
        Run(tmp_path).clone(git_ssh.url, secret)


def test_ssh_fetch_and_checkout(git_ssh, tmp_path):
    url, refs = git_ssh.server.repository(f"fetch-{uuid.uuid4().hex[:8]}.git")
    secret = key_secret(git_ssh.key.private_key, git_ssh.host_key_line)
    run = Run(tmp_path)
    assert run.clone(url, secret) == refs["main"]
    pushed = git_servers.add_commit(git_ssh.server.root / url.rsplit("/", 1)[1], files={"new.txt": "new\n"})
    assert run.fetch(url, secret) == pushed
    assert run.fetch(url, secret, ref="v1") == refs["v1"]


def test_ssh_to_a_silent_server_times_out_and_stops_the_agent(git_ssh, tmp_path):
    with silent_server() as port:
        name = f"[127.0.0.1]:{port}"
        secret = key_secret(git_ssh.key.private_key, other_host_key(name))
        run = Run(tmp_path)
        with pytest.raises(GitError, match=r"timed out|did not finish|Could not connect"):
            run.clone(f"ssh://git@127.0.0.1:{port}/repo.git", secret, timeout=2)
    assert not agents_serving(run.work_dir)


# A process holding a job's agent, which the test kills as a worker could be killed mid-clone.
_AGENT_HOLDER = """
import sys, time
import django
django.setup()
from pathlib import Path
from credentials.redaction import Redactor
from plugins.git.command import Deadline, SSHAuth
from plugins.git.ssh import ssh_agent
auth = SSHAuth(private_key=sys.stdin.read(), passphrase=None, username="git", known_hosts="")
with ssh_agent(auth, Path(sys.argv[1]), Deadline(300), Redactor()):
    print("ready", flush=True)
    time.sleep(300)
"""


def test_the_agent_dies_with_the_process_that_started_it(git_ssh, tmp_path):
    work_dir = tmp_path / "work"
    work_dir.mkdir(mode=0o700)
    holder = subprocess.Popen(
        [sys.executable, "-c", _AGENT_HOLDER, str(work_dir)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        cwd=Path(__file__).resolve().parents[2],
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"},
    )
    holder.stdin.write(git_ssh.key.private_key.encode())  # on stdin, never on a command line
    holder.stdin.close()
    try:
        assert holder.stdout.readline() == b"ready\n"
        assert len(agents_serving(work_dir)) == 1
    finally:
        holder.kill()  # SIGKILL: no finally block of the holder runs
        holder.wait()
    # ssh-agent checks on its parent every 10 s: wait for that, boundedly.
    for _ in range(150):
        if not agents_serving(work_dir):
            break
        time.sleep(0.1)
    assert not agents_serving(work_dir)


def test_auth_for_ssh_keeps_the_key_out_of_its_repr(git_ssh):
    auth = auth_for(key_secret(git_ssh.key.private_key, git_ssh.host_key_line), parse_repo_url(git_ssh.url), Redactor())
    assert isinstance(auth, SSHAuth)
    assert auth.username == git_ssh.server.user
    assert "PRIVATE" not in repr(auth)


# --- Outbound addresses: resolved once, git pinned to the address judged, refusals before connecting ------

# In the HTTPS server's certificate; no real resolver knows it, so only the pinned address reaches the server.
GIT_NAME = "git.latchkey.test"


def by_name(host_key_line: str, port: int) -> str:
    """The server's pinned line, for GIT_NAME instead of its address."""
    return f"[{GIT_NAME}]:{port} " + " ".join(host_key_line.split()[1:])


def test_https_clone_connects_to_the_address_resolved_once(git_https, tmp_path, monkeypatch):
    # DNS rebinding: every answer after the first is the metadata address; none is ever used.
    resolver = install_fake_dns(monkeypatch, {GIT_NAME: [["127.0.0.1"], ["169.254.169.254"]]})
    url = git_https.server.url("private/plugin.git", host=GIT_NAME)
    before = len(git_https.server.requests)

    commit = Run(tmp_path).clone(url, token_secret(git_https.token, hosts=(GIT_NAME,)))

    assert commit == git_https.private_refs["main"]
    assert resolver.calls == [GIT_NAME]
    sent = git_https.server.requests[before:]
    assert sent and all(request.host == f"{GIT_NAME}:{git_https.server.port}" for request in sent)
    assert all(request.auth_ok for request in sent)


def test_ssh_clone_connects_to_the_pinned_address_and_checks_the_key_by_name(git_ssh, tmp_path, monkeypatch):
    resolver = install_fake_dns(monkeypatch, {GIT_NAME: [["127.0.0.1"], ["169.254.169.254"]]})
    port = git_ssh.server.port
    url = git_ssh.url.replace(f"@127.0.0.1:{port}/", f"@{GIT_NAME}:{port}/")
    secret = key_secret(git_ssh.key.private_key, by_name(git_ssh.host_key_line, port), hosts=(GIT_NAME,))

    assert Run(tmp_path).clone(url, secret) == git_ssh.refs["main"]
    assert resolver.calls == [GIT_NAME]


def test_ssh_a_key_pinned_for_the_address_does_not_vouch_for_the_name(git_ssh, tmp_path, monkeypatch):
    resolver = install_fake_dns(monkeypatch, {GIT_NAME: [["127.0.0.1"], ["169.254.169.254"]]})
    port = git_ssh.server.port
    url = git_ssh.url.replace(f"@127.0.0.1:{port}/", f"@{GIT_NAME}:{port}/")
    # The right key, pinned under [127.0.0.1]:port: the name the URL uses has no key pinned.
    secret = key_secret(git_ssh.key.private_key, git_ssh.host_key_line, hosts=(GIT_NAME,))

    with pytest.raises(GitHostKeyError) as caught:
        Run(tmp_path).clone(url, secret)

    assert "not pinned" in str(caught.value)
    # The key shown was read again from the address judged, not from a second lookup.
    assert caught.value.offered_line == by_name(git_ssh.host_key_line, port)
    assert resolver.calls == [GIT_NAME]


def test_git_refuses_loopback_before_connecting_when_no_network_is_listed(git_https, tmp_path, settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    before = len(git_https.server.requests)
    with pytest.raises(DestinationRefused, match=r"^127\.0\.0\.1 is a loopback address"):
        Run(tmp_path).clone(git_https.public_url, None)
    assert len(git_https.server.requests) == before


def test_git_over_ssh_refuses_loopback_before_connecting(git_ssh, tmp_path, settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    with recording_listener() as listener:
        name = f"[127.0.0.1]:{listener.port}"
        secret = key_secret(git_ssh.key.private_key, other_host_key(name))
        run = Run(tmp_path)
        with pytest.raises(DestinationRefused, match=r"127\.0\.0\.1 is a loopback address"):
            run.clone(f"ssh://git@127.0.0.1:{listener.port}/repo.git", secret)
    assert not listener.connections
    assert not agents_serving(run.work_dir)


def test_git_refuses_a_name_resolving_to_the_metadata_address_even_in_debug(git_ssh, tmp_path, monkeypatch, settings):
    settings.DEBUG = True
    settings.OUTBOUND_ALLOWED_NETWORKS = ["0.0.0.0/0", "::/0"]
    install_fake_dns(monkeypatch, {"meta.latchkey.test": [["169.254.169.254"]]})
    secret = key_secret(git_ssh.key.private_key, other_host_key("meta.latchkey.test"), hosts=("meta.latchkey.test",))
    with pytest.raises(DestinationRefused, match=r"'meta\.latchkey\.test' resolves to a link-local address"):
        Run(tmp_path).clone("ssh://git@meta.latchkey.test/repo.git", secret)


def test_https_clone_pins_the_name_as_written_with_a_trailing_dot(git_https, tmp_path, monkeypatch):
    # curl looks "name." up apart from "name": both spellings are pinned, so neither is resolved by curl.
    resolver = install_fake_dns(monkeypatch, {GIT_NAME: [["127.0.0.1"], ["169.254.169.254"]]})
    url = git_https.server.url("private/plugin.git", host=f"{GIT_NAME}.")

    with pytest.raises(GitError) as caught:
        Run(tmp_path).clone(url, token_secret(git_https.token, hosts=(GIT_NAME,)))

    # It reached the pinned address's TLS (this curl checks "name." against the certificate and
    # fails there); unpinned, it would have failed to resolve the name instead.
    assert "certificate" in str(caught.value) and "resolve" not in str(caught.value).lower()
    assert resolver.calls == [GIT_NAME]


# --- Leaks: the process list and git's environment while clones run ---------------------------------


def test_no_secret_in_any_command_line_nor_worker_secret_in_gits_environment(git_https, git_ssh, tmp_path):
    token = git_https.token
    key = git_ssh.key
    secrets = [token, f"x-access-token:{token}", *key_needles(key.encrypted_private_key), key.passphrase]
    assert "FERNET_KEYS" in os.environ  # this process has one: git must not inherit it

    def watched(cmdline: str) -> bool:
        return cmdline.startswith(("git", "ssh", "/usr/lib/git-core/"))

    with ProcSampler(watch_environ=watched) as sampler:
        Run(tmp_path, "https").clone(git_https.private_url, token_secret(token))
        run = Run(tmp_path, "ssh")
        run.destination = tmp_path / "ssh-checkout"
        secret = key_secret(key.encrypted_private_key, git_ssh.host_key_line, passphrase=key.passphrase)
        run.clone(git_ssh.url, secret)

    # The zero below means something only if the sampler saw the processes that could have leaked.
    assert sampler.saw(f"git clone --no-checkout -- {git_https.private_url}")
    assert sampler.saw(f"git clone --no-checkout -- {git_ssh.url}")
    assert sampler.saw("git-remote-https") and sampler.saw("ssh-agent")
    assert sampler.saw("ssh -F /dev/null")
    assert sampler.occurrences(secrets) == 0
    environments = sampler.environments()
    assert any("GIT_CONFIG_COUNT" in names for names in environments)
    for names in environments:
        assert not names & {"FERNET_KEYS", "DATABASE_URL", "SECRET_KEY", "CELERY_BROKER_URL"}
    # The key never reaches any environment either (the token does, in git's own, by design).
    assert sampler.environ_occurrences(secrets[2:]) == 0
