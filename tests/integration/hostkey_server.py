"""OpenSSH's sshd on loopback offering three host keys (Ed25519, ECDSA, RSA), for fetching host keys."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

from tests.integration import servers

KEY_TYPES = {"ed25519": "ssh-ed25519", "ecdsa": "ecdsa-sha2-nistp256", "rsa": "ssh-rsa"}


@contextlib.contextmanager
def multi_key_sshd(directory: Path) -> Iterator[tuple[int, dict[str, str], Path]]:
    """sshd on loopback with an Ed25519, an ECDSA and an RSA host key; yields its port, the keys' fingerprints
    as ssh-keygen prints them, and its log."""
    fingerprints, host_keys = {}, []
    for kind, name in KEY_TYPES.items():
        path = directory / f"host_{kind}"
        extra = ["-b", "2048"] if kind == "rsa" else []
        subprocess.run(["ssh-keygen", "-q", "-t", kind, *extra, "-N", "", "-f", str(path)], check=True, timeout=60)
        printed = subprocess.run(["ssh-keygen", "-lf", f"{path}.pub"], capture_output=True, text=True, check=True)
        fingerprints[name] = printed.stdout.split()[1]
        host_keys.append(f"HostKey {path}\n")
    port = servers.free_port()
    config = directory / "sshd_config"
    config.write_text(
        f"ListenAddress {servers.LOOPBACK}\nPort {port}\n{''.join(host_keys)}PidFile {directory / 'sshd.pid'}\n"
        "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\nLogLevel VERBOSE\n"
    )
    if os.geteuid() == 0:
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
    log = directory / "sshd.log"
    process = subprocess.Popen(
        ["/usr/sbin/sshd", "-D", "-e", "-f", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=open(log, "w"),  # noqa: SIM115  (closed with the process)
    )
    try:
        servers.wait_for_port(port, process=process)
        yield port, fingerprints, log
    finally:
        servers.stop(process)
