"""Real servers the integration tests start on free loopback ports: PostgreSQL, Redis, sshd, HTTP, a Celery worker."""

from __future__ import annotations

import base64
import contextlib
import glob
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LOOPBACK = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return probe.getsockname()[1]


def wait_for_port(port: int, *, process: subprocess.Popen | None = None, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the server on port {port} exited with {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection((LOOPBACK, port), timeout=1):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listened on port {port} within {timeout:g} s")


def stop(process: subprocess.Popen, *, group: bool = False, timeout: float = 15.0) -> None:
    if process.poll() is not None:
        return
    send = (lambda sig: os.killpg(process.pid, sig)) if group else process.send_signal
    with contextlib.suppress(ProcessLookupError):
        send(signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            send(signal.SIGKILL)
        process.wait(timeout)


# --- PostgreSQL: a cluster of our own, with password authentication -------------------------------
# The shared server trusts every loopback connection, so a wrong password would pass there.


def postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


@dataclass
class Postgres:
    port: int
    superuser: str

    def execute(self, sql: str) -> None:
        import psycopg2

        connection = psycopg2.connect(host=LOOPBACK, port=self.port, user=self.superuser, dbname="postgres")
        connection.autocommit = True
        try:
            with connection.cursor() as cursor:
                cursor.execute(sql)
        finally:
            connection.close()


@contextlib.contextmanager
def postgres_server(directory: Path) -> Iterator[Postgres]:
    """initdb a cluster (as the postgres account when we are root: initdb refuses root) and start it."""
    binaries = postgres_bin()
    assert binaries is not None
    as_user: list[str] = []
    superuser = pwd.getpwuid(os.geteuid()).pw_name
    if os.geteuid() == 0:
        as_user, superuser = ["runuser", "-u", "postgres", "--"], "postgres"
        shutil.chown(directory, "postgres")
    data = directory / "data"
    port = free_port()
    subprocess.run(
        [*as_user, str(binaries / "initdb"), "-D", str(data), "-U", superuser, "--auth-local=trust",
         "--auth-host=scram-sha-256", "--no-sync"],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    # The superuser connects over loopback without a password; every other role needs its own.
    hba = data / "pg_hba.conf"
    rules = f"host all {superuser} {LOOPBACK}/32 trust\nhost all all {LOOPBACK}/32 scram-sha-256\n"
    hba.write_text(rules)
    options = f"-c listen_addresses={LOOPBACK} -c port={port} -c unix_socket_directories={directory} -c fsync=off"
    subprocess.run(
        [*as_user, str(binaries / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(directory / "log"),
         "-w", "-t", "60", "start"],
        check=True, capture_output=True, timeout=90,
    )  # fmt: skip
    try:
        yield Postgres(port=port, superuser=superuser)
    finally:
        subprocess.run(
            [*as_user, str(binaries / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
            capture_output=True,
            timeout=60,
        )


# --- Redis: a second server with a password (the broker's Redis is never touched) ----------------


@contextlib.contextmanager
def redis_server(password: str) -> Iterator[int]:
    port = free_port()
    # The password goes in on stdin as a config file: never on a command line (/proc/*/cmdline).
    process = subprocess.Popen(
        ["redis-server", "-"],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    config = f'bind {LOOPBACK}\nport {port}\nsave ""\nappendonly no\nrequirepass "{password}"\n'
    process.stdin.write(config.encode())
    process.stdin.close()
    try:
        wait_for_port(port, process=process)
        yield port
    finally:
        stop(process)


# --- sshd: OpenSSH's server, with its own host key and one authorized key --------------------------


@dataclass
class SSHServer:
    port: int
    user: str
    host_key_line: str  # as known_hosts writes it: [127.0.0.1]:port type base64


@contextlib.contextmanager
def ssh_server(directory: Path, authorized_public_key: str) -> Iterator[SSHServer]:
    host_key = directory / "host_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(host_key)], check=True, timeout=30)
    authorized = directory / "authorized_keys"
    authorized.write_text(authorized_public_key + "\n")
    authorized.chmod(0o600)
    port = free_port()
    user = pwd.getpwuid(os.geteuid()).pw_name
    config = directory / "sshd_config"
    config.write_text(
        f"ListenAddress {LOOPBACK}\nPort {port}\nHostKey {host_key}\nPidFile {directory / 'sshd.pid'}\n"
        f"AuthorizedKeysFile {authorized}\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
        f"PubkeyAuthentication yes\nPermitRootLogin prohibit-password\nUsePAM no\nStrictModes no\n"
        f"AllowUsers {user}\nLogLevel VERBOSE\n"
    )
    if os.geteuid() == 0:
        # sshd's privilege separation directory, which Debian's service would create.
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
    process = subprocess.Popen(
        ["/usr/sbin/sshd", "-D", "-e", "-f", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=open(directory / "sshd.log", "w"),  # noqa: SIM115  (closed with the process)
    )
    try:
        wait_for_port(port, process=process)
        key_type, key_b64 = host_key.with_suffix(".pub").read_text().split()[:2]
        yield SSHServer(port=port, user=user, host_key_line=f"[{LOOPBACK}]:{port} {key_type} {key_b64}")
    finally:
        stop(process)


# --- HTTP: GitHub's and GitLab's user endpoints, and an API's test path ----------------------------


class FakeForge:
    """What the HTTP server accepts: one token per route family, and one basic-auth pair."""

    def __init__(self, token: str, username: str = "octocat", password: str = ""):
        self.token = token
        self.username = username
        self.password = password or token
        self.requests: list[tuple[str, str, dict[str, str]]] = []


def _handler(forge: FakeForge) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # quiet: the tests read no server log
            pass

        def _send(self, status: int, body: dict, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def _refuse(self, sent: str) -> None:
            # Like a careless server, echo what was sent: the tester must redact it.
            self._send(401, {"message": f"Bad credentials: {sent!r} is not valid"})

        def do_GET(self) -> None:
            forge.requests.append(("GET", self.path, dict(self.headers)))
            bearer = self.headers.get("Authorization", "").removeprefix("Bearer ")
            private = self.headers.get("PRIVATE-TOKEN", "")
            if self.path == "/user":  # GitHub
                if bearer != forge.token:
                    return self._refuse(bearer)
                return self._send(200, {"login": forge.username}, {"X-OAuth-Scopes": "repo, read:org"})
            if self.path == "/api/v4/user":  # GitLab
                if forge.token not in (bearer, private):
                    return self._refuse(bearer or private)
                return self._send(200, {"username": forge.username})
            if self.path == "/api/v4/personal_access_tokens/self":
                if private != forge.token:
                    return self._refuse(private)
                return self._send(200, {"scopes": ["read_api", "read_repository"]})
            if self.path == "/oauth/token/info":
                if bearer != forge.token:
                    return self._refuse(bearer)
                return self._send(200, {"scope": ["read_user", "api"]})
            if self.path == "/check/bearer":
                return self._send(200, {}) if bearer == forge.token else self._refuse(bearer)
            if self.path == "/check/header":
                sent = self.headers.get("X-API-Key", "")
                return self._send(200, {}) if sent == forge.token else self._refuse(sent)
            if self.path == "/check/basic":
                sent = self.headers.get("Authorization", "").removeprefix("Basic ")
                expected = base64.b64encode(f"{forge.username}:{forge.password}".encode()).decode()
                return self._send(200, {}) if sent == expected else self._refuse(sent)
            if self.path == "/redirect":
                self.send_response(302)
                self.send_header("Location", "http://evil.example/steal")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return None
            return self._send(404, {"message": "404 Not Found"})

    return Handler


@contextlib.contextmanager
def http_server(forge: FakeForge) -> Iterator[int]:
    server = ThreadingHTTPServer((LOOPBACK, 0), _handler(forge))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def silent_server() -> Iterator[int]:
    """Accepts connections and never answers: a test against it hangs until its own timeout."""
    listener = socket.socket()
    listener.bind((LOOPBACK, 0))
    listener.listen(16)
    held: list[socket.socket] = []
    stopping = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stopping.is_set():
            with contextlib.suppress(OSError):
                held.append(listener.accept()[0])

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stopping.set()
        thread.join()
        for connection in held:
            connection.close()
        listener.close()


# --- A Celery worker process ------------------------------------------------------------------------


@dataclass
class Worker:
    process: subprocess.Popen
    log: Path
    name: str

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def kill(self) -> None:
        """SIGKILL the worker and its pool processes: no clean shutdown, no acknowledgement."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(15)


def start_worker(
    *,
    database_url: str,
    broker_url: str,
    log: Path,
    concurrency: int = 2,
    loglevel: str = "INFO",
    extra_env: dict[str, str] | None = None,
) -> Worker:
    """``celery -A config worker`` on the test database, in its own process group; returns once it is ready."""
    name = f"latchkey-test-{uuid.uuid4().hex[:8]}@%h"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": broker_url,
        "LOG_LEVEL": loglevel,
        **(extra_env or {}),
    }
    log_file = open(log, "w")  # noqa: SIM115  (the child holds it; closed when we return)
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=prefork", f"--concurrency={concurrency}",
         f"--loglevel={loglevel}", "--without-gossip", "--without-mingle", "--without-heartbeat", "-n", name],
        cwd=ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    log_file.close()
    worker = Worker(process=process, log=log, name=name)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the Celery worker exited with {process.returncode}:\n{worker.log_text()[-3000:]}")
        if " ready." in worker.log_text():
            return worker
        time.sleep(0.1)
    stop(process, group=True)
    raise RuntimeError(f"the Celery worker was not ready within 60 s:\n{worker.log_text()[-3000:]}")
