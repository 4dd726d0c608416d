"""The built-in types: defaults, destinations, git hand-off, SSH key parsing, and the registry."""

import shutil
import subprocess

import pytest
from django.core.exceptions import ImproperlyConfigured

from credentials.types import CredentialType, CustomCredentialType, SchemaErrors, get_type, system_types
from credentials.types.hosts import normalise_host, url_host
from tests.conftest import require_service
from tests.factories import BUILTIN_SLUGS, host_key_line, ssh_keypair, valid_fields


def test_every_builtin_type_is_registered_and_accepts_valid_values():
    assert set(BUILTIN_SLUGS) <= {t.slug for t in system_types()}
    for slug in BUILTIN_SLUGS:
        spec = get_type(slug)
        cleaned = spec.clean(valid_fields(slug))
        assert spec.secret_field_names, slug
        assert set(spec.secret_field_names) <= set(cleaned), slug


def test_github_defaults_to_the_public_api_and_allows_git_host():
    spec = get_type("github_pat")
    values = spec.clean({"token": "t"})
    assert values["base_url"] == "https://api.github.com"
    assert spec.default_allowed_hosts(values) == ["api.github.com", "github.com"]
    assert spec.git_transport == "https"
    assert spec.git_http_auth(values) == ("x-access-token", "t")


def test_github_enterprise_is_its_own_single_host():
    spec = get_type("github_pat")
    values = spec.clean({"token": "t", "base_url": "https://GHE.corp.example/api/v3"})
    assert spec.default_allowed_hosts(values) == ["ghe.corp.example"]


def test_gitlab_types_use_oauth2_for_git():
    for slug, secret in (("gitlab_pat", "token"), ("gitlab_oauth", "access_token")):
        spec = get_type(slug)
        values = spec.clean({secret: "t"})
        assert spec.default_allowed_hosts(values) == ["gitlab.com"]
        assert spec.git_http_auth(values) == ("oauth2", "t")


def test_basic_auth_hands_git_its_own_user():
    spec = get_type("http_basic")
    values = spec.clean(valid_fields("http_basic"))
    assert spec.git_http_auth(values) == ("svc", "s3cret-value")
    assert get_type("postgres").git_transport == ""
    assert get_type("postgres").git_http_auth({}) is None


def test_database_defaults():
    assert get_type("postgres").clean(valid_fields("postgres"))["port"] == 5432
    redis = get_type("redis").clean(valid_fields("redis"))
    assert (redis["port"], redis["db"], redis["tls"]) == (6379, 0, False)
    assert get_type("redis").default_allowed_hosts(redis) == ["cache.example.com"]


def test_postgres_certificate_appears_only_for_verifying_modes():
    spec = get_type("postgres")
    with pytest.raises(SchemaErrors):
        spec.clean({**valid_fields("postgres"), "sslmode": "verify-full", "ssl_root_cert": 5})
    assert "ssl_root_cert" not in spec.clean({**valid_fields("postgres"), "ssl_root_cert": "x"})


@pytest.mark.parametrize(
    "url",
    ["ftp://example.com", "example.com", "https://user:pw@example.com", "https://", "https://bad_host!/"],
)
def test_base_url_must_be_a_plain_http_url(url):
    with pytest.raises(SchemaErrors) as caught:
        get_type("http_bearer").clean({"base_url": url, "token": "t"})
    assert "base_url" in caught.value.errors


def test_header_names_are_http_tokens():
    with pytest.raises(SchemaErrors) as caught:
        get_type("http_header").clean({**valid_fields("http_header"), "header_name": "X Bad: yes"})
    assert "header_name" in caught.value.errors


@pytest.mark.parametrize(
    ("raw", "host"),
    [("Example.COM.", "example.com"), ("[::1]", "::1"), ("127.0.0.1", "127.0.0.1"), (" git.io ", "git.io")],
)
def test_host_normalisation(raw, host):
    assert normalise_host(raw) == host


@pytest.mark.parametrize("raw", ["", "a b", "-bad.com", "x" * 300, "under_score.com"])
def test_bad_hosts(raw):
    with pytest.raises(ValueError):
        normalise_host(raw)


def test_url_host():
    assert url_host("https://API.example.com:8443/v1") == "api.example.com"


# --- SSH keys --------------------------------------------------------------------------------


def ssh_values(**changes):
    private_key, _ = ssh_keypair("pass-phrase")
    return {"private_key": private_key, "passphrase": "pass-phrase", "host_keys": host_key_line(), **changes}


def test_ssh_key_metadata_has_the_sha256_fingerprint():
    spec = get_type("ssh_key")
    values = spec.clean(ssh_values())
    metadata = spec.metadata(values)
    assert metadata["fingerprint"].startswith("SHA256:")
    assert metadata["key_type"] == "ssh-ed25519"
    assert metadata["host_key_fingerprints"][0]["hosts"] == ["git.example.com"]
    assert spec.default_allowed_hosts(values) == ["git.example.com"]
    assert values["username"] == "git"


def test_ssh_fingerprint_matches_ssh_keygen(tmp_path):
    # OpenSSH itself is the reference for what a fingerprint looks like.
    require_service(shutil.which("ssh-keygen") is not None, "ssh-keygen (openssh-client) is not installed")
    private_key, public = ssh_keypair("")
    (tmp_path / "k.pub").write_text(public)
    out = subprocess.run(["ssh-keygen", "-l", "-f", str(tmp_path / "k.pub")], capture_output=True, text=True).stdout
    spec = get_type("ssh_key")
    values = spec.clean({"private_key": private_key, "host_keys": host_key_line()})
    assert spec.metadata(values)["fingerprint"] == out.split()[1]


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"private_key": "not a key"}, "private_key", "not a private key"),
        ({"passphrase": "wrong-one"}, "passphrase", "does not decrypt"),
        ({"passphrase": ""}, "passphrase", "is encrypted"),
        ({"host_keys": "no keys here"}, "host_keys", "Line 1 is not a known_hosts entry"),
        ({"host_keys": "# only a comment"}, "host_keys", "Pin at least one host key"),
    ],
)
def test_ssh_key_errors_land_on_the_right_field(changes, field, message):
    with pytest.raises(SchemaErrors) as caught:
        get_type("ssh_key").clean(ssh_values(**changes))
    assert any(message in m for m in caught.value.errors[field]), caught.value.errors


def test_unencrypted_key_with_a_passphrase_is_refused():
    private_key, _ = ssh_keypair("")
    with pytest.raises(SchemaErrors) as caught:
        get_type("ssh_key").clean(ssh_values(private_key=private_key, passphrase="extra"))
    assert "not encrypted" in caught.value.errors["passphrase"][0]


def test_pinned_host_on_a_port_and_hashed_hosts():
    line = host_key_line("[127.0.0.1]:2222")
    spec = get_type("ssh_key")
    assert spec.default_allowed_hosts(spec.clean(ssh_values(host_keys=line))) == ["127.0.0.1"]
    _, key_type, key = host_key_line().split()
    with pytest.raises(SchemaErrors) as caught:
        spec.clean(ssh_values(host_keys=f"|1|abc=|def= {key_type} {key}"))
    assert "hashed host names" in caught.value.errors["host_keys"][0]


# --- Registry --------------------------------------------------------------------------------


def test_subclassing_registers_and_a_second_slug_owner_is_refused():
    class Probe(CredentialType):
        slug = "probe_type_for_test"
        name = "Probe"

    try:
        assert isinstance(get_type("probe_type_for_test"), Probe)
        with pytest.raises(ImproperlyConfigured, match="defined twice"):

            class Other(CredentialType):
                slug = "probe_type_for_test"
                name = "Other"

    finally:
        from credentials.types import base

        base._registry.pop("probe_type_for_test")


def test_apps_add_types_in_credential_types_modules(db):
    # tests.typeapp is installed by the test settings; its credential_types.py was imported
    # by AppConfig.ready(), and post_migrate mirrored the type into the table.
    from credentials.models import CredentialType as CredentialTypeRow

    assert get_type("test_widget_key").name == "Widget API key (test app)"
    row = CredentialTypeRow.objects.get(slug="test_widget_key")
    assert row.is_system and row.spec is get_type("test_widget_key")


def test_custom_types_take_destinations_from_conventional_fields():
    spec = CustomCredentialType(
        slug="acme",
        name="Acme",
        category="api",
        icon="key",
        description="",
        schema=[
            {"name": "base_url", "label": "URL", "required": True},
            {"name": "api_key", "label": "Key", "secret": True, "required": True},
        ],
    )
    values = spec.clean({"base_url": "https://acme.example/api", "api_key": "k"})
    assert spec.destination_fields == ("base_url",)
    assert spec.default_allowed_hosts(values) == ["acme.example"]
    assert spec.secret_field_names == ("api_key",)
