"""PEM certificates in a credential's fields (a CA to verify a server with), parsed when they are saved."""

from __future__ import annotations

import re

from cryptography import x509

# A CA bundle for one server needs a few certificates; the ceiling bounds the parsing (invariant 12).
MAX_CERTIFICATES = 20
_BLOCK = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----")


def parse_certificates(text: str) -> list[x509.Certificate]:
    """The X.509 certificates in PEM ``text``; ValueError saying what is wrong with it.

    Only CERTIFICATE blocks are accepted: a private key pasted here would be kept in clear.
    """
    labels = _BLOCK.findall(text)
    if not labels:
        raise ValueError("Paste a certificate in PEM form (-----BEGIN CERTIFICATE----- …).")
    others = sorted({label for label in labels if label != "CERTIFICATE"})
    if others:
        raise ValueError(
            f"Only certificates belong here, not {', '.join(others)}: this field is not secret and is shown to "
            "everyone who may view the credential."
        )
    if len(labels) > MAX_CERTIFICATES:
        raise ValueError(f"Paste at most {MAX_CERTIFICATES} certificates (found {len(labels)}).")
    try:
        certificates = x509.load_pem_x509_certificates(text.encode())
    except ValueError:
        raise ValueError("This is not a valid PEM certificate.") from None
    if len(certificates) != len(labels):
        raise ValueError("One of these certificates is not valid PEM.")
    return certificates
