"""The built-in credential types: git hosting tokens, SSH keys, databases and HTTP APIs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.views.decorators.debug import sensitive_variables

from credentials.types.base import CredentialType
from credentials.types.schema import Field, Option, SchemaErrors, validate_values
from credentials.types.ssh import PinnedHostKey, load_private_key, parse_host_keys

GITHUB_API = "https://api.github.com"
GITLAB_URL = "https://gitlab.com"

_TEST_PATH = Field(
    name="test_path",
    label="Test path",
    default="/",
    pattern=r"/\S*",
    max_length=2000,
    help="Path under the base URL that answers 2xx when the credential works.",
)


def _base_url(default: str, help_text: str) -> Field:
    return Field(name="base_url", label="Base URL", default=default, max_length=2000, help=help_text)


class GitHubPAT(CredentialType):
    slug = "github_pat"
    name = "GitHub personal access token"
    category = "git"
    icon = "github"
    description = "A classic or fine-grained GitHub token, for the API and for cloning over HTTPS."
    fields = (
        Field(
            name="token",
            label="Personal access token",
            secret=True,
            required=True,
            max_length=255,
            placeholder="ghp_… or github_pat_…",
            help="Needs the repo scope (classic) or Contents: read (fine-grained) to clone.",
        ),
        _base_url(GITHUB_API, "For GitHub Enterprise Server: https://HOST/api/v3."),
    )
    destination_fields = ("base_url",)
    git_transport = "https"

    def extra_hosts_for(self, values: Mapping[str, Any]) -> tuple[str, ...]:
        # github.com serves git; api.github.com serves the API.
        return ("github.com",) if values.get("base_url", GITHUB_API).rstrip("/") == GITHUB_API else ()

    def git_http_auth(self, values: Mapping[str, Any]) -> tuple[str, str]:
        return ("x-access-token", values["token"])


class GitLabPAT(CredentialType):
    slug = "gitlab_pat"
    name = "GitLab personal access token"
    category = "git"
    icon = "gitlab"
    description = "A GitLab personal, project or group access token."
    fields = (
        Field(
            name="token",
            label="Access token",
            secret=True,
            required=True,
            max_length=255,
            placeholder="glpat-…",
            help="Needs read_repository to clone, read_api or read_user to be tested.",
        ),
        _base_url(GITLAB_URL, "For self-hosted GitLab: https://HOST."),
    )
    destination_fields = ("base_url",)
    git_transport = "https"

    def git_http_auth(self, values: Mapping[str, Any]) -> tuple[str, str]:
        # GitLab accepts any non-empty user name with an access token as the password.
        return ("oauth2", values["token"])


class GitLabOAuth(CredentialType):
    slug = "gitlab_oauth"
    name = "GitLab OAuth token"
    category = "git"
    icon = "gitlab"
    description = "An OAuth 2 access token issued by GitLab to an application."
    fields = (
        Field(name="access_token", label="Access token", secret=True, required=True, max_length=2000),
        _base_url(GITLAB_URL, "For self-hosted GitLab: https://HOST."),
    )
    destination_fields = ("base_url",)
    git_transport = "https"

    def git_http_auth(self, values: Mapping[str, Any]) -> tuple[str, str]:
        return ("oauth2", values["access_token"])


class SSHKey(CredentialType):
    slug = "ssh_key"
    name = "SSH key"
    category = "git"
    icon = "terminal"
    description = "A private key for git over SSH, with the host keys it may trust."
    fields = (
        Field(name="username", label="User name", default="git", max_length=255, pattern=r"[A-Za-z0-9._-]+"),
        Field(
            name="private_key",
            label="Private key",
            secret=True,
            required=True,
            input="textarea",
            placeholder="-----BEGIN OPENSSH PRIVATE KEY-----",
            help="Ed25519, ECDSA or RSA, in OpenSSH or PEM format.",
        ),
        Field(
            name="passphrase",
            label="Passphrase",
            secret=True,
            max_length=1024,
            help="Only if the key is encrypted.",
        ),
        Field(
            name="host_keys",
            label="Pinned host keys",
            required=True,
            input="textarea",
            max_length=65_536,
            placeholder="github.com ssh-ed25519 AAAAC3Nza…",
            help="One known_hosts line (host key-type base64) per key of each server this key may connect to. "
            "A pinned host key says which server is genuine: a server offering any other key is refused before "
            "anything is sent. Allowed hosts say where the key may be sent: each pinned host must be one of "
            "them, and left blank they are exactly the pinned hosts. Fetch a server's keys and compare their "
            "fingerprints with the ones its operator publishes before you pin them.",
        ),
    )
    destination_fields = ("host_keys",)
    git_transport = "ssh"

    # Parsing an encrypted key is slow on purpose (its passphrase's key derivation), so the
    # check and the facts share one parse.
    def _parse(self, values: Mapping[str, Any]) -> tuple[Any, list[PinnedHostKey], dict[str, list[str]]]:
        errors: dict[str, list[str]] = {}
        key, pinned = None, []
        try:
            key = load_private_key(values["private_key"], values.get("passphrase"))
        except SchemaErrors as exc:
            errors.update(exc.errors)
        try:
            pinned = parse_host_keys(values["host_keys"])
        except SchemaErrors as exc:
            errors.update(exc.errors)
        else:
            if not pinned:
                errors["host_keys"] = ["Pin at least one host key."]
        return key, pinned, errors

    def check(self, values: Mapping[str, Any]) -> dict[str, list[str]]:
        return self._parse(values)[2]

    def metadata(self, values: Mapping[str, Any]) -> dict[str, Any]:
        key, pinned, _ = self._parse(values)
        return self._facts(key, pinned)

    @sensitive_variables("values", "cleaned", "key")
    def clean_with_metadata(self, values: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        cleaned = validate_values(self.fields, values)
        key, pinned, errors = self._parse(cleaned)
        if errors:
            raise SchemaErrors(errors)
        return cleaned, self._facts(key, pinned)

    @staticmethod
    def _facts(key: Any, pinned: list[PinnedHostKey]) -> dict[str, Any]:
        return {
            "fingerprint": key.fingerprint,
            "key_type": key.get_name(),
            "key_bits": key.get_bits(),
            # The public half, for a deploy key or authorized_keys: not a secret, derived here so that
            # no page has to open the sealed payload to show it.
            "public_key": f"{key.get_name()} {key.get_base64()}",
            "host_key_fingerprints": [
                {"hosts": list(p.hosts), "key_type": p.key_type, "fingerprint": p.fingerprint} for p in pinned
            ],
        }

    def _field_hosts(self, name: str, value: Any) -> list[str]:
        hosts: list[str] = []
        for pinned in parse_host_keys(value):
            hosts.extend(h for h in pinned.hosts if h not in hosts)
        return hosts


def _host(default_port: int) -> tuple[Field, Field]:
    return (
        Field(name="host", label="Host", required=True, max_length=253, placeholder="db.example.com"),
        Field(name="port", label="Port", type="number", integer=True, default=default_port, min=1, max=65535),
    )


class Postgres(CredentialType):
    slug = "postgres"
    name = "PostgreSQL"
    category = "database"
    icon = "database"
    description = "A PostgreSQL role's password for one database."
    fields = (
        *_host(5432),
        Field(name="database", label="Database", required=True, max_length=63),
        Field(name="username", label="User name", required=True, max_length=63),
        Field(
            name="password",
            label="Password",
            secret=True,
            max_length=1024,
            help="Leave it empty for a role the server lets in without one (trust authentication).",
        ),
        Field(
            name="sslmode",
            label="SSL mode",
            type="options",
            default="prefer",
            options=tuple(Option(v, v) for v in ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")),
        ),
        Field(
            name="ssl_root_cert",
            label="CA certificate",
            input="textarea",
            show_if={"sslmode": ("verify-ca", "verify-full")},
            help="PEM certificate of the authority that signed the server's certificate.",
        ),
    )
    destination_fields = ("host",)
    transport_fields = ("port", "sslmode", "ssl_root_cert")
    certificate_fields = ("ssl_root_cert",)


class Redis(CredentialType):
    slug = "redis"
    name = "Redis"
    category = "database"
    icon = "database"
    description = "A Redis password, with an ACL user name if the server uses ACLs."
    fields = (
        *_host(6379),
        Field(name="username", label="ACL user name", max_length=255, help="Leave empty for the default user."),
        Field(name="password", label="Password", secret=True, required=True, max_length=1024),
        Field(name="db", label="Database number", type="number", integer=True, default=0, min=0, max=1_000_000),
        Field(name="tls", label="Use TLS", type="boolean", default=False),
        Field(
            name="tls_ca_cert",
            label="CA certificate",
            input="textarea",
            show_if={"tls": (True,)},
            help="PEM certificate to verify the server with; empty uses the system's.",
        ),
    )
    destination_fields = ("host",)
    transport_fields = ("port", "tls", "tls_ca_cert")
    certificate_fields = ("tls_ca_cert",)


def _api_url() -> Field:
    return Field(
        name="base_url", label="Base URL", required=True, max_length=2000, placeholder="https://api.example.com"
    )


class HTTPBearer(CredentialType):
    slug = "http_bearer"
    name = "HTTP bearer token"
    category = "api"
    icon = "globe"
    description = "Sent as Authorization: Bearer <token>."
    fields = (
        _api_url(),
        Field(name="token", label="Token", secret=True, required=True, max_length=8192),
        _TEST_PATH,
    )
    destination_fields = ("base_url",)


class HTTPBasic(CredentialType):
    slug = "http_basic"
    name = "HTTP basic authentication"
    category = "api"
    icon = "globe"
    description = "A user name and password sent as HTTP basic authentication."
    fields = (
        _api_url(),
        Field(name="username", label="User name", required=True, max_length=255, pattern=r"[^:]+"),
        Field(name="password", label="Password", secret=True, required=True, max_length=1024),
        _TEST_PATH,
    )
    destination_fields = ("base_url",)
    git_transport = "https"

    def git_http_auth(self, values: Mapping[str, Any]) -> tuple[str, str]:
        return (values["username"], values["password"])


class HTTPHeader(CredentialType):
    slug = "http_header"
    name = "HTTP header"
    category = "api"
    icon = "globe"
    description = "An API key sent in a header of its own, such as X-API-Key."
    fields = (
        _api_url(),
        Field(
            name="header_name",
            label="Header name",
            default="X-API-Key",
            max_length=100,
            # An HTTP token (RFC 9110): no spaces, colons or control characters.
            pattern=r"[!#$%&'*+.^_`|~0-9A-Za-z-]+",
        ),
        Field(name="header_value", label="Header value", secret=True, required=True, max_length=8192),
        _TEST_PATH,
    )
    destination_fields = ("base_url",)
    # Moved into User-Agent, the key would land in the server's access logs.
    transport_fields = ("header_name",)
