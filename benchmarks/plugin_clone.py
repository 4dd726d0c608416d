"""Figure 6, plugin clones: registering a plugin (the whole service path) against plain `git clone`, HTTPS and SSH.

One generated repository (2,000 files, 200 commits) is served by the test suite's real servers
on loopback: `git http-backend` behind TLS and basic authentication, and OpenSSH's sshd. The
operation is `plugin_register` with its task run in-process: the checks, the plugin row and
its audit event, the one door (decrypt, audit), the job directory, the per-job ssh-agent (SSH),
the clone and checkout, the move into place and the result. The floor is `git clone` of the same
repository from the same server with the same authentication: the token as the same basic-auth
header, or the same (unencrypted) key from a 0600 file. The two alternate, clone for clone.
"""

from __future__ import annotations

import base64
import contextlib
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

from benchmarks.environment import BenchContext
from benchmarks.harness import FigureResult, Stats

NAME = "plugin clone"
GOAL = 1.15
FILES = 2000
COMMITS = 200
MAX_PAIRS = 9


def run(context: BenchContext, *, iterations: int) -> list[FigureResult]:
    from tests.integration import git_servers

    missing = [tool for tool in ("git", "ssh-agent", "/usr/sbin/sshd") if shutil.which(tool) is None]
    if missing:
        print(f"  skipped {NAME}: {', '.join(missing)} not installed", flush=True)
        return []
    pairs = max(3, min(iterations // 200, MAX_PAIRS))
    with tempfile.TemporaryDirectory(prefix="latchkey-bench-git-") as directory:
        root = Path(directory)
        token = "bench-" + uuid.uuid4().hex
        key = git_servers.make_ssh_key()
        with (
            git_servers.git_https_server(root / "https", username="x-access-token", token=token) as https,
            git_servers.git_ssh_server(root / "ssh", key) as ssh,
        ):
            https_url, _ = https.repository("plugin.git", files=FILES, commits=COMMITS, branches=(), tags=())
            ssh_url, _ = ssh.repository("plugin.git", files=FILES, commits=COMMITS, branches=(), tags=())
            with _plugin_settings(root / "plugins", https.ca_file):
                https_id = _https_credential(context, https, token)
                ssh_id = _ssh_credential(context, ssh, key)
                scratch = root / "plain"
                rows = [
                    _figure(
                        "HTTPS", pairs, _through_service(context, https_url, https_id),
                        _plain_https(https_url, https.ca_file, token, scratch),
                    ),
                    _figure(
                        "SSH", pairs, _through_service(context, ssh_url, ssh_id),
                        _plain_ssh(ssh_url, ssh, key, scratch),
                    ),
                ]  # fmt: skip
    return rows


def _figure(transport: str, pairs: int, op: Callable[[], None], floor: Callable[[], None]) -> FigureResult:
    # Warm: the first clone pays for the server's caches and this process's imports.
    op()
    floor()
    op_ns, floor_ns = [], []
    for _ in range(pairs):
        op_ns.append(_timed(op))
        floor_ns.append(_timed(floor))
    notes = (
        f"{pairs} clones each, alternating, of a repository of {FILES:,} files and "
        f"{COMMITS} commits; op = plugin_register with its task in-process until installed, floor = plain "
        "`git clone` with the same authentication from the same server.",
    )
    return FigureResult(
        f"{NAME} over {transport}", Stats.from_ns(op_ns), Stats.from_ns(floor_ns), GOAL, (), (), notes=notes
    )


def _timed(call: Callable[[], None]) -> int:
    started = time.perf_counter_ns()
    call()
    return time.perf_counter_ns() - started


@contextlib.contextmanager
def _plugin_settings(root: Path, ca_file: Path) -> Iterator[None]:
    """Checkouts in the run's own directory, trusting the test CA; the tasks run in this process."""
    from django.conf import settings

    from config.celery import app

    values = {"PLUGINS_ROOT": root, "PLUGINS_GIT_CA_FILE": str(ca_file)}
    previous = {name: getattr(settings, name) for name in values}
    eager = app.conf.task_always_eager
    for name, value in values.items():
        setattr(settings, name, value)
    app.conf.task_always_eager = True
    try:
        yield
    finally:
        for name, value in previous.items():
            setattr(settings, name, value)
        app.conf.task_always_eager = eager


def _https_credential(context: BenchContext, server, token: str) -> uuid.UUID:
    from credentials.services import credential_create

    fields = {"token": token, "base_url": f"https://127.0.0.1:{server.port}"}
    name = f"bench-git-https-{uuid.uuid4().hex[:6]}"
    return credential_create(actor=context.owner, type_slug="github_pat", name=name, fields=fields).pk


def _ssh_credential(context: BenchContext, server, key) -> uuid.UUID:
    from credentials.services import credential_create

    fields = {"username": server.user, "private_key": key.private_key, "host_keys": server.host_key_line}
    name = f"bench-git-ssh-{uuid.uuid4().hex[:6]}"
    return credential_create(actor=context.owner, type_slug="ssh_key", name=name, fields=fields).pk


def _through_service(context: BenchContext, url: str, credential_id: uuid.UUID) -> Callable[[], None]:
    from plugins.services import plugin_delete, plugin_register

    def op() -> None:
        plugin = plugin_register(
            actor=context.owner, name=f"bench-{uuid.uuid4().hex[:8]}", repo_url=url, credential_id=credential_id
        )
        if plugin.status != "installed":
            raise RuntimeError(f"the benchmark's plugin clone failed: {plugin.last_error}")
        # Timed on both sides: the floor removes its clone too.
        plugin_delete(actor=context.owner, plugin_id=plugin.pk)

    return op


def _plain(command: list[str], scratch: Path, **env: str) -> None:
    from tests.integration.git_servers import git_environment

    destination = scratch / uuid.uuid4().hex
    subprocess.run(  # noqa: S603  (git, with our own arguments)
        [*command, str(destination)], check=True, capture_output=True, env=git_environment(**env), timeout=600
    )
    shutil.rmtree(destination)


def _plain_https(url: str, ca_file: Path, token: str, scratch: Path) -> Callable[[], None]:
    header = "Authorization: Basic " + base64.b64encode(f"x-access-token:{token}".encode()).decode()
    command = ["git", "-c", f"http.extraHeader={header}", "-c", f"http.sslCAInfo={ca_file}", "clone", "-q", url]
    return lambda: _plain(command, scratch)


def _plain_ssh(url: str, server, key, scratch: Path) -> Callable[[], None]:
    keys = scratch.parent / "plain-ssh"
    keys.mkdir(mode=0o700)
    (keys / "id").write_text(key.private_key)
    (keys / "id").chmod(0o600)
    (keys / "known_hosts").write_text(server.host_key_line + "\n")
    ssh = (
        f"ssh -F /dev/null -i {keys / 'id'} -o IdentitiesOnly=yes -o StrictHostKeyChecking=yes "
        f"-o UserKnownHostsFile={keys / 'known_hosts'} -o BatchMode=yes"
    )
    return lambda: _plain(["git", "clone", "-q", url], scratch, GIT_SSH_COMMAND=ssh)
