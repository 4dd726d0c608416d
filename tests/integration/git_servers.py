"""Real git servers on loopback for the tests and benchmarks: git http-backend behind TLS and basic auth, and sshd."""

from __future__ import annotations

import base64
import contextlib
import datetime
import ipaddress
import os
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.integration import servers
from tests.integration.servers import LOOPBACK

HTTP_BACKEND = "/usr/lib/git-core/git-http-backend"
_DATE = 1_700_000_000


def git_environment(**extra: str) -> dict[str, str]:
    """For the servers' own git commands: no user or system configuration."""
    return {
        "PATH": os.environ.get("PATH") or os.defpath,
        "LANG": "C.UTF-8",
        "HOME": "/nonexistent",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": "/dev/null",
        **extra,
    }


# --- Repositories --------------------------------------------------------------------------------


def make_repository(
    path: Path,
    *,
    files: int = 5,
    commits: int = 3,
    branches: Sequence[str] = ("feature",),
    tags: Sequence[str] = ("v1",),
    file_size: int = 64,
    incompressible: bool = False,
) -> dict[str, str]:
    """A bare repository with ``commits`` commits on ``main``, quickly, through ``git fast-import``.

    The first commit adds ``files`` files of ``file_size`` bytes (random bytes if ``incompressible``);
    each later commit changes a few of them. Each tag is annotated and points at main's first commit;
    each branch adds one commit of its own there. Returns the commit id of every ref ("main", names).
    """
    subprocess.run(
        ["git", "init", "--quiet", "--bare", "-b", "main", str(path)], check=True, env=git_environment(), timeout=60
    )
    stream = bytearray()

    def blob(content: bytes) -> None:
        stream.extend(b"data %d\n" % len(content) + content + b"\n")

    def content(number: int, version: int) -> bytes:
        if incompressible:
            return os.urandom(file_size)
        line = f"file {number} version {version}\n".encode()
        return (line * (file_size // len(line) + 1))[:file_size]

    mark = 0
    for commit in range(commits):
        mark += 1
        stream.extend(f"commit refs/heads/main\nmark :{mark}\n".encode())
        stream.extend(f"committer Test <test@example.com> {_DATE + commit} +0000\n".encode())
        blob(f"commit {commit}".encode())
        changed = range(files) if commit == 0 else [(commit * 7 + k) % files for k in range(min(files, 10))]
        for number in changed:
            stream.extend(f"M 100644 inline dir{number % 20}/file{number}.txt\n".encode())
            blob(content(number, commit))
        stream.extend(b"\n")
    first = 1
    for name in tags:
        stream.extend(f"tag {name}\nfrom :{first}\ntagger Test <test@example.com> {_DATE} +0000\n".encode())
        blob(f"tag {name}".encode())
    for name in branches:
        mark += 1
        stream.extend(f"commit refs/heads/{name}\nmark :{mark}\n".encode())
        stream.extend(f"committer Test <test@example.com> {_DATE} +0000\n".encode())
        blob(f"on {name}".encode())
        stream.extend(f"from :{first}\n".encode())
        stream.extend(f"M 100644 inline {name.replace('/', '-')}.txt\n".encode())
        blob(f"only on {name}\n".encode())
        stream.extend(b"\n")
    _fast_import(path, bytes(stream))
    return ref_commits(path)


def add_commit(path: Path, *, branch: str = "main", files: dict[str, str]) -> str:
    """A new commit on ``branch`` of a bare repository (as a push would add it); returns its id."""
    stream = bytearray(
        f"commit refs/heads/{branch}\ncommitter Test <test@example.com> {int(time.time())} +0000\n".encode()
    )
    message = b"more"
    stream.extend(b"data %d\n%s\n" % (len(message), message))
    stream.extend(f"from refs/heads/{branch}^0\n".encode())
    for name, text in files.items():
        data = text.encode()
        stream.extend(f"M 100644 inline {name}\n".encode() + b"data %d\n" % len(data) + data + b"\n")
    stream.extend(b"\n")
    _fast_import(path, bytes(stream))
    return ref_commits(path)[branch]


def _fast_import(path: Path, stream: bytes) -> None:
    subprocess.run(
        ["git", "fast-import", "--quiet", "--force"],
        input=stream,
        check=True,
        env=git_environment(GIT_DIR=str(path)),
        timeout=600,
    )


def ref_commits(path: Path) -> dict[str, str]:
    """Every branch and tag of a repository, by short name, with the commit it points at."""
    out = subprocess.run(
        ["git", "for-each-ref", "--format=%(refname:short) %(objectname) %(*objectname)", "refs/heads", "refs/tags"],
        check=True,
        capture_output=True,
        text=True,
        env=git_environment(GIT_DIR=str(path)),
        timeout=60,
    ).stdout
    refs = {}
    for line in out.splitlines():
        name, target, *peeled = line.split()
        refs[name] = peeled[0] if peeled else target
    return refs


# --- TLS: a CA of our own and a certificate for 127.0.0.1 -----------------------------------------


def make_tls_files(directory: Path) -> tuple[Path, Path, Path]:
    """(CA certificate, server certificate, server key), for 127.0.0.1, localhost and git.latchkey.test."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Latchkey test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, LOOPBACK)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.IPAddress(ipaddress.ip_address(LOOPBACK)),
                    x509.DNSName("localhost"),
                    # A name no resolver knows: only a connection pinned to 127.0.0.1 reaches the server by it.
                    x509.DNSName("git.latchkey.test"),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    paths = (directory / "ca.pem", directory / "server.pem", directory / "server.key")
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return paths


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


# --- HTTPS: git http-backend behind basic authentication -------------------------------------------


@dataclass
class GitRequest:
    method: str
    path: str
    host: str
    auth_sent: bool
    auth_ok: bool


@dataclass
class GitHTTPSServer:
    """Repositories under ``root``: ``private/`` needs the one accepted user and token, ``public/`` nothing.

    Other routes: ``/careless/<repo>`` needs the token too but answers a wrong one with 403 and a body
    echoing what was sent (as careless servers do); ``/moved/<repo>`` redirects to ``localhost``
    (another origin); ``/hang/<repo>`` accepts and never answers.
    """

    port: int
    ca_file: Path
    root: Path
    username: str
    token: str = field(repr=False)
    requests: list[GitRequest] = field(default_factory=list, repr=False)

    def url(self, path: str, host: str = LOOPBACK) -> str:
        return f"https://{host}:{self.port}/{path.lstrip('/')}"

    def repository(self, name: str, *, public: bool = False, **options) -> tuple[str, dict[str, str]]:
        """A new repository served here (see make_repository); returns its URL and its refs' commits."""
        area = "public" if public else "private"
        path = self.root / area / name
        return self.url(f"{area}/{name}"), make_repository(path, **options)

    def path_of(self, url: str) -> Path:
        return self.root / url.split(f":{self.port}/", 1)[1]


def _git_handler(server: GitHTTPSServer, stopping: threading.Event) -> type[BaseHTTPRequestHandler]:
    expected = "Basic " + base64.b64encode(f"{server.username}:{server.token}".encode()).decode()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive: one TLS handshake per clone, as a forge allows

        def log_message(self, format: str, *args: object) -> None:  # quiet; the tests read .requests
            pass

        def do_GET(self) -> None:
            self._serve()

        def do_POST(self) -> None:
            self._serve()

        def _serve(self) -> None:
            sent = self.headers.get("Authorization", "")
            route, _, rest = self.path.lstrip("/").partition("/")
            server.requests.append(
                GitRequest(self.command, self.path, self.headers.get("Host", ""), bool(sent), sent == expected)
            )
            body = self._body()
            if route == "hang":
                stopping.wait()
                return None
            if route == "moved":
                location = server.url(f"private/{rest}", host="localhost")
                return self._reply(302, b"", {"Location": location})
            if route not in ("public", "private", "careless"):
                return self._reply(404, b"no such route\n")
            if route != "public" and sent != expected:
                # Like a careless server, echo what was sent: the git layer must redact it.
                echo = f"Bad credentials: {sent!r} is not valid\n".encode()
                if route == "careless":
                    return self._reply(403, echo)
                return self._reply(401, echo, {"WWW-Authenticate": 'Basic realm="git"'})
            area = "private" if route == "careless" else route
            return self._cgi(f"/{area}/{rest}", body, user=server.username if route != "public" else "")

        def _body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                chunks = []
                while True:
                    size = int(self.rfile.readline().split(b";")[0], 16)
                    if size == 0:
                        self.rfile.readline()
                        return b"".join(chunks)
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def _reply(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def _cgi(self, path_info: str, body: bytes, *, user: str) -> None:
            path, _, query = path_info.partition("?")
            env = git_environment(
                GIT_PROJECT_ROOT=str(server.root),
                GIT_HTTP_EXPORT_ALL="1",
                REQUEST_METHOD=self.command,
                QUERY_STRING=query,
                PATH_INFO=path,
                CONTENT_TYPE=self.headers.get("Content-Type", ""),
                CONTENT_LENGTH=str(len(body)),
                REMOTE_USER=user,
                REMOTE_ADDR=LOOPBACK,
                GATEWAY_INTERFACE="CGI/1.1",
            )
            if self.headers.get("Content-Encoding"):
                env["HTTP_CONTENT_ENCODING"] = self.headers["Content-Encoding"]
            if self.headers.get("Git-Protocol"):
                env["GIT_PROTOCOL"] = env["HTTP_GIT_PROTOCOL"] = self.headers["Git-Protocol"]
            backend = subprocess.Popen(
                [HTTP_BACKEND], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
            )
            feeder = threading.Thread(target=_feed, args=(backend, body), daemon=True)
            feeder.start()
            status, headers = 200, []
            for raw in iter(backend.stdout.readline, b""):
                line = raw.decode("latin-1").rstrip("\r\n")
                if not line:
                    break
                name, _, value = line.partition(":")
                if name.lower() == "status":
                    status = int(value.split()[0])
                else:
                    headers.append((name, value.strip()))
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            # Streamed as http-backend writes it, so a big pack is not held in memory first.
            for chunk in iter(lambda: backend.stdout.read1(65536), b""):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            self.wfile.write(b"0\r\n\r\n")
            backend.wait()
            feeder.join()

    return Handler


def _feed(backend: subprocess.Popen, body: bytes) -> None:
    with contextlib.suppress(BrokenPipeError):
        backend.stdin.write(body)
    with contextlib.suppress(BrokenPipeError):
        backend.stdin.close()


@contextlib.contextmanager
def git_https_server(directory: Path, *, username: str, token: str) -> Iterator[GitHTTPSServer]:
    """Serves ``directory/repos`` over HTTPS on a free loopback port; its CA certificate is ``ca_file``."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_file, cert, key = make_tls_files(directory)
    root = directory / "repos"
    for area in ("private", "public"):
        (root / area).mkdir(parents=True)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    stopping = threading.Event()
    state = GitHTTPSServer(port=0, ca_file=ca_file, root=root, username=username, token=token)
    httpd = ThreadingHTTPServer((LOOPBACK, 0), _git_handler(state, stopping))
    # The handshake happens in each request's thread, so a stalled client cannot block accepting.
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True, do_handshake_on_connect=False)
    state.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        stopping.set()
        httpd.shutdown()
        httpd.server_close()


# --- SSH: sshd serving repositories by their absolute paths ----------------------------------------


@dataclass
class SSHKeyPair:
    private_key: str = field(repr=False)  # OpenSSH format, unencrypted
    encrypted_private_key: str = field(repr=False)  # the same key under ``passphrase``
    passphrase: str = field(repr=False)
    public_line: str


def make_ssh_key(passphrase: str = "key-passphrase") -> SSHKeyPair:
    key = ed25519.Ed25519PrivateKey.generate()

    def private(encryption) -> str:
        return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, encryption).decode()

    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return SSHKeyPair(
        private_key=private(serialization.NoEncryption()),
        encrypted_private_key=private(serialization.BestAvailableEncryption(passphrase.encode())),
        passphrase=passphrase,
        public_line=public.decode() + " latchkey-git-test",
    )


@dataclass
class GitSSHServer:
    port: int
    user: str
    host_key_line: str  # [127.0.0.1]:port type base64, to pin
    root: Path
    key: SSHKeyPair  # the one authorized key

    def url(self, path: Path) -> str:
        return f"ssh://{self.user}@{LOOPBACK}:{self.port}{path}"

    def repository(self, name: str, **options) -> tuple[str, dict[str, str]]:
        path = self.root / name
        return self.url(path), make_repository(path, **options)


@contextlib.contextmanager
def git_ssh_server(directory: Path, key: SSHKeyPair) -> Iterator[GitSSHServer]:
    """OpenSSH's sshd (servers.ssh_server) authorizing ``key``; git runs git-upload-pack '<absolute path>'."""
    root = directory / "repos"
    root.mkdir(parents=True)  # and directory, if it does not exist yet
    sshd_dir = directory / "sshd"
    sshd_dir.mkdir()
    with servers.ssh_server(sshd_dir, key.public_line) as sshd:
        yield GitSSHServer(port=sshd.port, user=sshd.user, host_key_line=sshd.host_key_line, root=root, key=key)


# --- What the fixtures yield ------------------------------------------------------------------------


@dataclass
class HTTPSSite:
    """The HTTPS server with its repositories: ``private_url`` (main, feature/next, tag v1) and ``public_url``."""

    server: GitHTTPSServer
    private_url: str
    private_refs: dict[str, str]
    public_url: str
    public_refs: dict[str, str]

    @property
    def ca_file(self) -> Path:
        return self.server.ca_file

    @property
    def username(self) -> str:
        return self.server.username

    @property
    def token(self) -> str:
        return self.server.token


@dataclass
class SSHSite:
    """sshd with one repository: ``url`` (ssh://user@127.0.0.1:port/abs/path) and ``scp_url`` (no port)."""

    server: GitSSHServer
    url: str
    scp_url: str
    refs: dict[str, str]

    @property
    def key(self) -> SSHKeyPair:
        return self.server.key

    @property
    def host_key_line(self) -> str:
        return self.server.host_key_line
