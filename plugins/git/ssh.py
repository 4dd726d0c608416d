"""SSH for git: a per-job ssh-agent fed the key on stdin, ssh options that trust only pinned host keys."""

from __future__ import annotations

import contextlib
import os
import select
import shlex
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import paramiko
from cryptography.hazmat.primitives import serialization
from django.views.decorators.debug import sensitive_variables
from paramiko.hostkeys import HostKeyEntry

from credentials.redaction import Redactor
from credentials.types import SchemaErrors
from credentials.types.ssh import unlocked_private_key_bytes
from plugins.errors import GitError, GitHostKeyError

if TYPE_CHECKING:
    from plugins.git.command import Deadline, SSHAuth
    from plugins.git.urls import RepoLocation


# --- SSH: a per-job agent, pinned host keys ------------------------------------------------------------

# The agent's child stays alive until its stdin (a pipe only this process holds) closes; the agent
# notices its parent is gone within 10 s. ssh-agent is set-group-id, so PR_SET_PDEATHSIG would not survive.
_AGENT_CHILD = 'echo "$SSH_AGENT_PID"; exec cat >/dev/null'


@contextlib.contextmanager
def ssh_agent(auth: SSHAuth, work_dir: Path, deadline: Deadline, redactor: Redactor) -> Iterator[tuple[Path, Path]]:
    """An ssh-agent for this job only, holding the credential's key (for the job's timeout at most)."""
    agent_socket = work_dir / "agent.sock"
    if len(os.fsencode(agent_socket)) > 100:
        # A Unix socket's path has room for about 100 bytes (sun_path).
        raise GitError(f"The work directory's path is too long for ssh-agent's socket: {work_dir}")
    lifetime = str(int(deadline.timeout) + 10)
    agent = subprocess.Popen(  # noqa: S603
        ["ssh-agent", "-a", str(agent_socket), "-t", lifetime, "sh", "-c", _AGENT_CHILD],  # noqa: S607
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=_tool_environment(work_dir),
        start_new_session=True,
    )
    pidfd: int | None = None
    try:
        pidfd = os.pidfd_open(_agent_pid(agent, deadline))
        public_key = _add_key(auth, agent_socket, lifetime, work_dir, deadline, redactor)
        yield agent_socket, public_key
    finally:
        _stop_agent(agent, pidfd)


def _tool_environment(work_dir: Path, **extra: str) -> dict[str, str]:
    return {"PATH": os.environ.get("PATH") or os.defpath, "LANG": "C.UTF-8", "HOME": str(work_dir), **extra}


def _agent_pid(agent: subprocess.Popen, deadline: Deadline) -> int:
    # The agent listens on its socket before its child runs, so the pid's arrival means it is ready.
    ready, _, _ = select.select([agent.stdout], [], [], deadline.left())
    # The agent is started with stdin and stdout pipes (above), which Popen's type leaves optional.
    line = agent.stdout.readline() if ready else b""  # type: ignore[union-attr]
    if not line.strip().isdigit():
        raise GitError("ssh-agent did not start.")
    return int(line)


def _stop_agent(agent: subprocess.Popen, pidfd: int | None) -> None:
    if pidfd is not None:
        try:
            poller = select.poll()
            poller.register(pidfd, select.POLLIN)  # readable once the agent has exited
            for sig in (signal.SIGTERM, signal.SIGKILL):
                with contextlib.suppress(ProcessLookupError):
                    signal.pidfd_send_signal(pidfd, sig)
                if poller.poll(2000):
                    break
        finally:
            os.close(pidfd)
    agent.stdin.close()  # type: ignore[union-attr]  # its child ends, and with it any agent we could not signal
    agent.stdout.close()  # type: ignore[union-attr]  # both are pipes (see _agent_pid)
    try:
        agent.wait(5)
    except subprocess.TimeoutExpired:
        agent.kill()
        agent.wait()


@sensitive_variables("auth", "unlocked")
def _add_key(
    auth: SSHAuth, agent_socket: Path, lifetime: str, work_dir: Path, deadline: Deadline, redactor: Redactor
) -> Path:
    """Decrypt the key in memory and give it to the agent on stdin; returns the public key's file."""
    try:
        unlocked = unlocked_private_key_bytes(auth.private_key, auth.passphrase)
    except SchemaErrors as exc:
        raise GitError(f"The credential's SSH key cannot be used: {redactor.redact(exc)}") from None
    public_key = work_dir / "id.pub"
    public_key.write_bytes(_public_line(unlocked))
    try:
        result = subprocess.run(  # noqa: S603
            ["ssh-add", "-q", "-t", lifetime, "-"],  # noqa: S607
            input=unlocked,
            capture_output=True,
            env=_tool_environment(work_dir, SSH_AUTH_SOCK=str(agent_socket)),
            timeout=deadline.left(),
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise GitError("ssh-add did not finish in time.") from None
    if result.returncode != 0:
        said = redactor.shorten(result.stderr.decode(errors="replace").strip(), 300)
        raise GitError(f"The SSH key could not be given to ssh-agent: {said}")
    return public_key


@sensitive_variables("unlocked")
def _public_line(unlocked: bytes) -> bytes:
    # Checked (size, then primes) by unlocked_private_key_bytes a moment ago; only its public half is used here.
    public = serialization.load_ssh_private_key(unlocked, None, unsafe_skip_rsa_key_validation=True).public_key()
    return public.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH) + b"\n"


def ssh_command(
    *,
    user: str,
    agent_socket: Path,
    public_key: Path,
    known_hosts: Path,
    connect_timeout: int,
    address: str,
    host_key_alias: str,
) -> str:
    """ssh with no configuration but ours: only the agent's key, only the pinned host keys.

    It connects to ``address`` (judged by credentials.outbound; ssh looks nothing up) and checks the
    server's key against the keys pinned for ``host_key_alias``: the URL's name (``[name]:port``
    off port 22), never the address, so an address cannot stand in for the name that was pinned.
    """
    options = {
        "HostName": address,
        "HostKeyAlias": host_key_alias,
        "CheckHostIP": "no",
        "ProxyCommand": "none",
        "ProxyJump": "none",
        "User": user,
        "IdentitiesOnly": "yes",
        # With IdentitiesOnly, the public key picks the agent's key to offer: no private key file exists.
        "IdentityFile": _ssh_path(public_key),
        "IdentityAgent": _ssh_path(agent_socket),
        "StrictHostKeyChecking": "yes",
        "UserKnownHostsFile": _ssh_path(known_hosts),
        "GlobalKnownHostsFile": "/dev/null",
        "UpdateHostKeys": "no",
        "BatchMode": "yes",
        "PreferredAuthentications": "publickey",
        "ConnectTimeout": str(connect_timeout),
        "ControlMaster": "no",
        "ControlPath": "none",
        "ForwardAgent": "no",
        "ForwardX11": "no",
        "PermitLocalCommand": "no",
    }
    words = ["ssh", "-F", "/dev/null"]
    for name, value in options.items():
        words += ["-o", f"{name}={value}"]
    # git runs GIT_SSH_COMMAND through the shell.
    return " ".join(shlex.quote(word) for word in words)


def _ssh_path(path: Path) -> str:
    """A path as ssh's option parser reads it: quoted (spaces), with its % tokens escaped."""
    text = str(path)
    if '"' in text or "\\" in text:
        raise GitError(f"The work directory's path cannot contain quotes or backslashes: {text}")
    return '"' + text.replace("%", "%%") + '"'


def known_hosts_text(pinned: str) -> str:
    """The pinned lines, plus the bare host for each ``[host]:22`` (ssh looks a port-22 host up by name)."""
    lines = [line.strip() for line in pinned.splitlines() if line.strip()]
    extra = []
    for line in lines:
        names, _, rest = line.partition(" ")
        for name in names.split(","):
            if name.startswith("[") and name.endswith("]:22"):
                extra.append(f"{name[1:-4]} {rest}")
    return "\n".join([*lines, *extra]) + "\n"


def known_hosts_name(host: str, port: int) -> str:
    """The name ssh files a host's key under: ``host`` on port 22, ``[host]:port`` elsewhere."""
    return host if port == 22 else f"[{host}]:{port}"


def host_key_error(
    location: RepoLocation, auth: SSHAuth, deadline: Deadline, detail: str, *, address: str
) -> GitHostKeyError:
    """ssh refused the server's host key; ask the server for it again (no secret is sent) to show it.

    Asked at ``address``, the one the job judged and ssh connected to, not at a new lookup of the name.
    """
    port = location.port or 22
    name = known_hosts_name(location.host, port)
    where = f"{location.host}:{port}"
    offered = _offered_host_key(address, port, min(10.0, max(1.0, deadline.end - time.monotonic())))
    if offered is None:
        return GitHostKeyError(
            f"The host key of {where} is not pinned on this credential or differs from the pinned one; "
            "nothing was sent, and the server's key could not be read again to show it.",
            detail=detail,
        )
    line = f"{name} {offered.get_name()} {offered.get_base64()}"
    pinned = _pinned_fingerprints(auth.known_hosts, name)
    if pinned:
        message = (
            f"The server at {where} offered the {offered.get_name()} host key {offered.fingerprint}, but the key "
            f"pinned for it is {', '.join(pinned)}. Nothing was sent: this may be a man-in-the-middle, or the "
            f"server's key changed; if you trust it, pin: {line}"
        )
    else:
        message = (
            f"The server at {where} offered the {offered.get_name()} host key {offered.fingerprint}, which is not "
            f"pinned on this credential; nothing was sent. If it is the server's key, pin it: {line}"
        )
    return GitHostKeyError(message, offered_fingerprint=offered.fingerprint, offered_line=line, detail=detail)


def _offered_host_key(address: str, port: int, timeout: float) -> paramiko.PKey | None:
    try:
        with socket.create_connection((address, port), timeout=timeout) as sock:
            transport = paramiko.Transport(sock)
            try:
                transport.start_client(timeout=timeout)
                return transport.get_remote_server_key()
            finally:
                transport.close()
    except (OSError, EOFError, paramiko.SSHException):
        return None


def _pinned_fingerprints(known_hosts: str, name: str) -> list[str]:
    wanted = {name, f"[{name}]:22"} if not name.startswith("[") else {name}
    found = []
    for line in known_hosts.splitlines():
        line = line.strip()
        entry = HostKeyEntry.from_line(line) if line and not line.startswith(("#", "@")) else None
        if entry is not None and entry.key is not None and wanted & set(entry.hostnames):
            found.append(entry.key.fingerprint)
    return found
