"""Factories for users and credentials of every built-in type, with valid field values."""

from __future__ import annotations

import datetime
import functools
import uuid
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import NameOID
from django.contrib.auth import get_user_model

from audit.models import AuditEvent
from credentials.door import credential_reveal
from credentials.services import credential_create

PASSWORD = "correct horse battery staple"


# Where the clock stands in tests of what ends (time-bound shares, requests): the `clock` fixture.
CLOCK_START = datetime.datetime(2026, 12, 1, 9, 0, tzinfo=datetime.UTC)


def make_user(username: str | None = None, **extra: Any):
    username = username or f"user-{uuid.uuid4().hex[:8]}"
    return get_user_model().objects.create_user(username=username, password=PASSWORD, **extra)


@functools.cache
def ssh_keypair(passphrase: str = "") -> tuple[str, str]:
    """A fresh Ed25519 key in OpenSSH format: (private key, public key line)."""
    key = ed25519.Ed25519PrivateKey.generate()
    encryption = (
        serialization.BestAvailableEncryption(passphrase.encode()) if passphrase else serialization.NoEncryption()
    )
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, encryption)
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return private.decode(), public.decode() + " latchkey-test"


def host_key_line(host: str = "git.example.com") -> str:
    _, public = ssh_keypair("host-key")
    key_type, key_b64, *_ = public.split()
    return f"{host} {key_type} {key_b64}"


def ca_certificate_pem(name: str = "Latchkey test CA") -> str:
    """A self-signed CA certificate in PEM form, as a PostgreSQL or Redis credential pins."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


def valid_fields(type_slug: str, secret: str = "s3cret-value") -> dict[str, Any]:
    """Values that pass validation for each built-in type; every secret field holds ``secret``."""
    if type_slug == "ssh_key":
        private_key, _ = ssh_keypair(secret)
        return {"private_key": private_key, "passphrase": secret, "host_keys": host_key_line()}
    return {
        "github_pat": {"token": secret},
        "gitlab_pat": {"token": secret},
        "gitlab_oauth": {"access_token": secret},
        "postgres": {"host": "db.example.com", "database": "app", "username": "app", "password": secret},
        "redis": {"host": "cache.example.com", "password": secret},
        "http_bearer": {"base_url": "https://api.example.com", "token": secret},
        "http_basic": {"base_url": "https://api.example.com", "username": "svc", "password": secret},
        "http_header": {"base_url": "https://api.example.com", "header_value": secret},
    }[type_slug]


BUILTIN_SLUGS = (
    "github_pat", "gitlab_pat", "gitlab_oauth", "ssh_key", "postgres", "redis",
    "http_bearer", "http_basic", "http_header",
)  # fmt: skip


def make_credential(owner, type_slug: str = "github_pat", *, secret: str = "s3cret-value", **extra: Any):
    extra.setdefault("name", f"{type_slug}-{uuid.uuid4().hex[:6]}")
    return credential_create(actor=owner, type_slug=type_slug, fields=valid_fields(type_slug, secret), **extra)


def audit_actions(credential=None) -> list[str]:
    """The actions of the audit events so far, oldest first; only ``credential``'s when given."""
    events = AuditEvent.objects.order_by("id")
    if credential is not None:
        events = events.filter(credential_ref=str(credential.pk))
    return list(events.values_list("action", flat=True))


def reveal(actor, credential, **kwargs: Any):
    """The one door, as a test calls it: ``credential``'s secret for ``actor``."""
    return credential_reveal(actor=actor, credential_id=credential.pk, service="tests", **kwargs)
