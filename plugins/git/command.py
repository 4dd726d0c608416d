"""Git for plugins: clone and fetch with a credential over HTTPS or SSH, leaving no secret behind.

Where (URLs and refs) is in plugins.git.urls, the SSH agent and host keys in plugins.git.ssh.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from django.views.decorators.debug import sensitive_variables

from credentials import outbound
from credentials.door import RevealedSecret
from credentials.redaction import Redactor
from credentials.types import get_type
from plugins.errors import GitError, GitHostKeyError, UntrustedCheckout
from plugins.git.ssh import host_key_error, known_hosts_name, known_hosts_text, ssh_agent, ssh_command
from plugins.git.urls import COMMIT_ID, RepoLocation, parse_repo_url, validate_ref

logger = logging.getLogger(__name__)

# The interface callers use, whichever module defines each part.
__all__ = [
    "GitError",
    "GitHostKeyError",
    "HTTPSAuth",
    "RepoLocation",
    "SSHAuth",
    "UntrustedCheckout",
    "auth_for",
    "clone",
    "fetch_and_checkout",
    "parse_repo_url",
    "validate_ref",
]


# --- With what: the credential, in the form git needs ---------------------------------------------


@dataclass(frozen=True, repr=False)
class HTTPSAuth:
    username: str
    password: str

    def __repr__(self) -> str:
        return "<HTTPSAuth ***>"


@dataclass(frozen=True, repr=False)
class SSHAuth:
    private_key: str
    passphrase: str | None
    username: str
    known_hosts: str

    def __repr__(self) -> str:
        return "<SSHAuth ***>"


@sensitive_variables("secret", "http_auth", "password", "basic")
def auth_for(secret: RevealedSecret | None, location: RepoLocation, redactor: Redactor) -> HTTPSAuth | SSHAuth | None:
    """What git needs from ``secret`` for ``location``; refuses a type that does not fit, or a host not allowed."""
    if secret is None:
        return None
    try:
        spec = get_type(secret.type_slug)
    except KeyError:
        spec = None
    transport = spec.git_transport if spec is not None else ""
    if transport != location.transport:
        raise GitError(_misfit(secret.type_slug, transport, location))
    # Here, so that no caller can clone without it (ARCHITECTURE.md, invariant 9).
    secret.check_destination(location.host)
    for value in secret.secret_values:
        redactor.add(value)
    if transport == "ssh":
        return SSHAuth(
            private_key=secret["private_key"],
            passphrase=secret.get("passphrase") or None,
            username=location.user or secret.get("username") or "git",
            known_hosts=secret.get("host_keys") or "",
        )
    # A type from another app may say "https" without saying what git sends: refused, not a crash.
    http_auth = spec.git_http_auth(secret.values) if spec is not None else None
    if http_auth is None:
        raise GitError(_misfit(secret.type_slug, "", location))
    username, password = http_auth
    basic = f"{username}:{password}"
    redactor.add(password)
    redactor.add(basic)  # and so its base64, which is what the header carries
    return HTTPSAuth(username=username, password=password)


def _misfit(slug: str, transport: str, location: RepoLocation) -> str:
    if not transport:
        return f"A credential of type {slug} cannot be used with git."
    if location.transport == "ssh":
        return f"An SSH URL needs an SSH key credential; a credential of type {slug} works with https:// URLs."
    return f"An https:// URL needs a token or password credential; a credential of type {slug} works with SSH URLs."


# --- The operations ----------------------------------------------------------------------------------


@sensitive_variables("auth")
def clone(
    *,
    location: RepoLocation,
    ref: str,
    destination: Path,
    auth: HTTPSAuth | SSHAuth | None,
    redactor: Redactor,
    work_dir: Path,
    timeout: float,
) -> str:
    """Clone the whole history into ``destination`` (which must not exist), check ``ref`` out detached,
    and return its commit id. On failure nothing is left at ``destination``."""
    ref = _valid_ref(ref)
    destination = Path(destination)
    if destination.exists() or destination.is_symlink():
        raise GitError(f"{destination} already exists.")
    job = _Job(location, auth, redactor, Path(work_dir), timeout)
    try:
        with job.session():
            # One clone process, as a plain `git clone` would be; the checkout is the ref asked for.
            job.check(["clone", "--no-checkout", "--", location.url, str(destination)], action="clone")
            return _check_out(job, ref, destination)
    except BaseException:
        shutil.rmtree(destination, ignore_errors=True)
        raise


@sensitive_variables("auth")
def fetch_and_checkout(
    *,
    location: RepoLocation,
    ref: str,
    checkout: Path,
    auth: HTTPSAuth | SSHAuth | None,
    redactor: Redactor,
    work_dir: Path,
    timeout: float,
) -> str:
    """Fetch into an existing checkout and check ``ref`` out again, detached, discarding local changes."""
    ref = _valid_ref(ref)
    checkout = Path(checkout)
    if not (checkout / ".git").is_dir():
        raise GitError(f"There is no git checkout at {checkout}.")
    job = _Job(location, auth, redactor, Path(work_dir), timeout)
    _distrust(checkout / ".git", location)
    with job.session():
        # From the URL given, not the one in .git/config: what is sent, and where, is decided here.
        # HEAD too: the remote's default branch may have changed since the clone set origin/HEAD.
        refspecs = ["+refs/heads/*:refs/remotes/origin/*", "+refs/tags/*:refs/tags/*", f"+HEAD:{_FETCHED_HEAD}"]
        job.check(["fetch", "--prune", "--force", "--", location.url, *refspecs], action="fetch", repo=checkout)
        return _check_out(job, ref, checkout)


# Where a fetch keeps the commit of the remote's default branch (a clone's origin/HEAD is not updated).
_FETCHED_HEAD = "refs/latchkey/remote-head"


# --- An existing checkout: what a fetch may trust of its .git ----------------------------------------
#
# Its objects and refs, which are data (named by their hashes, overwritten by the fetch), and nothing
# that steers git. Its config is written again from scratch, with only what our clone wrote, rather
# than countered key by key: hundreds of settings run a program (core.sshCommand, core.fsmonitor,
# filter drivers, credential helpers, hooks), send the traffic elsewhere (url.*.insteadOf,
# http.proxy, http.curloptResolve) or pull in more configuration (include.path, includeIf), each
# release adds some, and git has no switch to skip a repository's own config; an allow-list of what
# we wrote is the one rule that stays true. Everything else in .git goes: hooks, info/ (attributes
# that name filters, grafts), alternates, a commondir or worktree config (more config read from
# elsewhere), the legacy remotes/ and branches/ files. A symbolic link where git keeps data could
# make it read or write outside the checkout: then nothing is trusted, and the caller clones afresh.
_TRUSTED_GIT_ENTRIES = frozenset({"HEAD", "objects", "refs", "packed-refs", "index", "shallow", "logs"})
_SHARED_INDEX = re.compile(r"^sharedindex\.[0-9a-f]{40,64}$")  # data an index may point at
_SHA256_REPOSITORY = re.compile(r"^\s*objectformat\s*=\s*sha256\s*$", re.IGNORECASE | re.MULTILINE)


def _distrust(git_dir: Path, location: RepoLocation) -> None:
    """Leave in ``git_dir`` only its objects and refs, and a config of ours; UntrustedCheckout if it is not ours."""
    if git_dir.is_symlink() or not git_dir.is_dir():
        raise UntrustedCheckout(f"{git_dir} is not a directory a clone made.")
    try:
        old_config = (git_dir / "config").read_text(errors="replace") if (git_dir / "config").is_file() else ""
        for entry in list(git_dir.iterdir()):
            if entry.name in _TRUSTED_GIT_ENTRIES or _SHARED_INDEX.match(entry.name):
                link = _symbolic_link_in(entry)
                if link is not None:
                    raise UntrustedCheckout(f"{link} is a symbolic link, which no clone makes.")
            elif entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        for name in ("alternates", "http-alternates"):
            (git_dir / "objects" / "info" / name).unlink(missing_ok=True)
        # The hash the repository's objects use is the one setting kept: getting it wrong fails, nothing more.
        _write_config(git_dir, location, sha256=bool(_SHA256_REPOSITORY.search(old_config)))
    except OSError as exc:
        raise UntrustedCheckout(f"The checkout's .git could not be reset: {exc.strerror or exc}") from None


def _symbolic_link_in(path: Path) -> Path | None:
    """``path`` itself, or anything under it, that is a symbolic link (git would follow it out of .git)."""
    if path.is_symlink():
        return path
    for root, directories, files in os.walk(path):
        for name in (*directories, *files):
            if os.path.islink(os.path.join(root, name)):
                return Path(root) / name
    return None


def _write_config(git_dir: Path, location: RepoLocation, *, sha256: bool) -> None:
    """What `git clone` writes (less the branch it checked out: we check out detached), atomically."""
    url = location.url.replace("\\", "\\\\").replace('"', '\\"')
    lines = [
        "[core]",
        f"\trepositoryformatversion = {1 if sha256 else 0}",
        "\tfilemode = true",
        "\tbare = false",
        "\tlogallrefupdates = true",
        *(["[extensions]", "\tobjectformat = sha256"] if sha256 else []),
        '[remote "origin"]',
        f'\turl = "{url}"',
        "\tfetch = +refs/heads/*:refs/remotes/origin/*",
    ]
    fresh = git_dir / "config.latchkey-new"
    fresh.unlink(missing_ok=True)
    # O_EXCL: never through a link someone left at this name.
    handle = os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    with os.fdopen(handle, "w") as file:
        file.write("\n".join(lines) + "\n")
    os.replace(fresh, git_dir / "config")  # replaces a link at "config" itself, never follows it


def _valid_ref(ref: str) -> str:
    try:
        return validate_ref(ref)
    except ValueError as exc:
        raise GitError(str(exc)) from None


def _check_out(job: _Job, ref: str, repo: Path) -> str:
    commit = _resolve(job, ref, repo)
    job.check(["checkout", "--quiet", "--force", "--detach", commit], action="checkout", repo=repo)
    job.check(["clean", "-q", "-ffdx"], action="clean", repo=repo)
    return commit


def _resolve(job: _Job, ref: str, repo: Path) -> str:
    """The commit ``ref`` names: a branch first (as `git clone -b` does), then a tag, then a commit id."""
    if not ref:
        candidates = [_FETCHED_HEAD, "refs/remotes/origin/HEAD"]
    else:
        candidates = [f"refs/remotes/origin/{ref}", f"refs/tags/{ref}"]
        if COMMIT_ID.match(ref):
            candidates.append(ref.lower())
    for candidate in candidates:
        code, out, _ = job.run(["rev-parse", "--verify", "--quiet", f"{candidate}^{{commit}}"], repo=repo)
        if code == 0:
            return out.strip()
    where = job.redactor.redact(job.location.url)
    if not ref:
        raise GitError(f"{where} has no default branch (is the repository empty?).")
    raise GitError(f"Ref '{ref}' not found in {where}: no branch, tag or commit by that name.")


# --- Running git ---------------------------------------------------------------------------------------

# Read by every git process of a job, as if given with -c: it outranks any repository config.
_GIT_CONFIG = (
    ("credential.helper", ""),  # no helper may store or supply a credential
    ("core.askPass", ""),
    ("core.hooksPath", "/dev/null"),  # a repository's hooks never run
    ("core.fsmonitor", "false"),
    ("init.templateDir", ""),  # no sample hooks copied in
    ("protocol.allow", "never"),
    ("protocol.https.allow", "always"),
    ("protocol.ssh.allow", "always"),
    ("submodule.recurse", "false"),
    ("fetch.recurseSubmodules", "false"),
    ("http.followRedirects", "false"),  # a redirect must not carry the credential elsewhere
    ("http.sslVerify", "true"),
    ("gc.auto", "0"),  # no background process outlives the job
    ("maintenance.auto", "false"),
    ("advice.detachedHead", "false"),
)


_DEFAULT_PORTS = {"https": 443, "ssh": 22}


class Deadline:
    def __init__(self, timeout: float):
        self.timeout = timeout
        self.end = time.monotonic() + timeout

    def left(self) -> float:
        left = self.end - time.monotonic()
        if left <= 0:
            raise GitError(f"git did not finish within {self.timeout:g} s and was stopped.")
        return left


class _Job:
    """One clone or fetch: its credential, its environment built from nothing, its deadline."""

    def __init__(self, location: RepoLocation, auth, redactor: Redactor, work_dir: Path, timeout: float):
        if location.transport == "ssh" and not isinstance(auth, SSHAuth):
            raise GitError("An SSH URL needs an SSH key credential.")
        if location.transport == "https" and not (auth is None or isinstance(auth, HTTPSAuth)):
            raise GitError("An https:// URL needs a token or password credential, not an SSH key.")
        self.location = location
        self.auth = auth
        self.redactor = redactor
        self.work_dir = work_dir
        self.deadline = Deadline(timeout)
        self.env: dict[str, str] = {}
        # Resolved once and judged (credentials.outbound) before anything starts; git and ssh are
        # then pinned to this address, so a second DNS answer (rebinding) is never used.
        port = location.port or _DEFAULT_PORTS[location.transport]
        try:
            self.destination = outbound.resolve(location.host, port)
        except outbound.UnresolvableHost:
            raise GitError(f"Could not resolve host {location.host}.") from None

    @contextlib.contextmanager
    def session(self) -> Iterator[None]:
        if isinstance(self.auth, SSHAuth):
            with ssh_agent(self.auth, self.work_dir, self.deadline, self.redactor) as (agent_socket, public_key):
                self.env = _environment(
                    self.work_dir, [], {"GIT_SSH_COMMAND": self.ssh_command(agent_socket, public_key)}
                )
                yield
        else:
            self.env = _environment(self.work_dir, _https_config(self.location, self.auth, self.destination), {})
            yield

    def ssh_command(self, agent_socket: Path, public_key: Path) -> str:
        known_hosts = self.work_dir / "known_hosts"
        known_hosts.write_text(known_hosts_text(self.auth.known_hosts))
        return ssh_command(
            user=self.auth.username,
            agent_socket=agent_socket,
            public_key=public_key,
            known_hosts=known_hosts,
            connect_timeout=max(1, min(30, int(self.deadline.timeout))),
            address=self.destination.address,
            host_key_alias=known_hosts_name(self.location.host, self.destination.port),
        )

    def run(self, args: list[str], *, repo: Path | None = None) -> tuple[int, str, str]:
        """git ``args`` in its own process group; the whole group is killed at the deadline."""
        env = self.env if repo is None else {**self.env, "GIT_DIR": str(repo / ".git"), "GIT_WORK_TREE": str(repo)}
        left = self.deadline.left()
        process = subprocess.Popen(  # noqa: S603  (an argument list, never a shell)
            ["git", *args],  # noqa: S607  (found on the PATH given, as a plain `git clone` would be)
            cwd=repo or self.work_dir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        try:
            out, err = process.communicate(timeout=left)
        except subprocess.TimeoutExpired:
            _kill_group(process)
            raise GitError(f"git did not finish within {self.deadline.timeout:g} s and was stopped.") from None
        except BaseException:
            _kill_group(process)
            raise
        return process.returncode, out.decode(errors="replace"), self.redactor.redact(err.decode(errors="replace"))

    def check(self, args: list[str], *, action: str, repo: Path | None = None) -> None:
        code, _, err = self.run(args, repo=repo)
        if code != 0:
            detail = self.redactor.shorten(err.strip(), 2000)
            logger.info("git %s of %s failed: %s", action, self.redactor.redact(self.location.url), detail)
            if "Host key verification failed" in err and isinstance(self.auth, SSHAuth):
                raise host_key_error(self.location, self.auth, self.deadline, detail, address=self.destination.address)
            raise GitError(_explain(err, action, self.location, self.auth, self.redactor), detail=detail)


def _kill_group(process: subprocess.Popen) -> None:
    # git's helpers (git-remote-https, ssh, index-pack) are in its group: none may outlive it.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    process.communicate()


def _environment(work_dir: Path, config: list[tuple[str, str]], extra: dict[str, str]) -> dict[str, str]:
    """Built from nothing: the worker's own environment holds FERNET_KEYS and DATABASE_URL."""
    env = {
        "PATH": os.environ.get("PATH") or os.defpath,
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",  # English messages, which _explain reads
        "HOME": str(work_dir),
        "XDG_CONFIG_HOME": str(work_dir),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_SYSTEM": "/dev/null",
        "GIT_CONFIG_GLOBAL": "/dev/null",
        # A command run in the work directory (clone) never looks above it for a repository whose
        # config it would read: the plugin root may sit inside another checkout (the project's own).
        "GIT_CEILING_DIRECTORIES": str(work_dir.parent),
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_ALLOW_PROTOCOL": "https:ssh",
        "GIT_SSH_VARIANT": "ssh",
    }
    pairs = [*_GIT_CONFIG, *config]
    env["GIT_CONFIG_COUNT"] = str(len(pairs))
    for number, (key, value) in enumerate(pairs):
        env[f"GIT_CONFIG_KEY_{number}"] = key
        env[f"GIT_CONFIG_VALUE_{number}"] = value
    env.update(extra)
    return env


@sensitive_variables("auth", "basic")
def _https_config(
    location: RepoLocation, auth: HTTPSAuth | None, destination: outbound.Destination
) -> list[tuple[str, str]]:
    config = []
    if not outbound.is_ip_literal(location.host):
        # curl connects to the address judged instead of resolving the name again; the name stays in
        # the Host header, the SNI and the certificate check. Each spelling curl might look up is pinned.
        written = urlsplit(location.url).hostname or location.host
        for name in dict.fromkeys((location.host, written)):
            config.append(("http.curloptResolve", f"{name}:{destination.port}:{destination.bracketed_address}"))
    ca_file = getattr(settings, "PLUGINS_GIT_CA_FILE", "")
    if ca_file:
        config.append(("http.sslCAInfo", str(ca_file)))
    if auth is not None:
        # Through the environment only, and only for the repository's own origin.
        basic = base64.b64encode(f"{auth.username}:{auth.password}".encode()).decode()
        origin = f"https://{urlsplit(location.url).netloc}/"
        config.append((f"http.{origin}.extraHeader", f"Authorization: Basic {basic}"))
    return config


# --- Explaining failures ------------------------------------------------------------------------------

_FAILURES = (
    (re.compile(r"could not read (username|password)|authentication failed|returned error: 401", re.I), "auth"),
    (re.compile(r"permission denied \(publickey", re.I), "key"),
    (re.compile(r"returned error: 403", re.I), "forbidden"),
    (re.compile(r"returned error: 30\d", re.I), "redirect"),
    (
        re.compile(r"repository not found|returned error: 404|not found|does not appear to be a git repository", re.I),
        "missing",
    ),
    (re.compile(r"could not resolve host|name or service not known", re.I), "resolve"),
    (re.compile(r"ssl|certificate", re.I), "tls"),
    (re.compile(r"connection refused|failed to connect|timed out|no route to host|connection closed", re.I), "connect"),
    (re.compile(r"transport '[^']*' not allowed", re.I), "protocol"),
)


def _explain(err: str, action: str, location: RepoLocation, auth, redactor: Redactor) -> str:
    url = redactor.redact(location.url)
    where = location.host if location.port is None else f"{location.host}:{location.port}"
    user = getattr(auth, "username", "")
    kind = next((kind for pattern, kind in _FAILURES if pattern.search(err)), "")
    summary = {
        "auth": f"Authentication failed: {where} refused the credential for {url}."
        if auth is not None
        else f"{where} asks for a credential to read {url}: choose one.",
        "key": f"Authentication failed: the SSH server at {where} refused the key for user '{user}'.",
        "forbidden": f"Access denied (HTTP 403): the credential may not read {url}.",
        "redirect": f"{where} answered with a redirect, which is not followed (it could carry the credential "
        "elsewhere): use the repository's final URL.",
        "missing": f"Repository not found: {url} (or the credential may not see it).",
        "resolve": f"Could not resolve host {location.host}.",
        "tls": f"The TLS connection to {where} failed: its certificate could not be verified.",
        "connect": f"Could not connect to {where}.",
        "protocol": f"git refused the transport of {url}.",
    }.get(kind, f"git {action} failed.")
    # git's progress lines ("Cloning into ...") say nothing about the failure.
    lines = [line.strip() for line in err.splitlines() if line.strip() and not line.startswith("Cloning into")]
    said = redactor.shorten(" / ".join(lines[-3:]), 400)
    return f"{summary} git said: {said}" if said else summary
