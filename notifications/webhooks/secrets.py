"""An endpoint's signing secret: made at random, sealed by the key ring to its row and number, opened only to sign."""

from __future__ import annotations

import base64
import secrets

from django.db.models import Q
from django.views.decorators.debug import sensitive_variables

from credentials.keys.inventory import SealedTable
from credentials.keys.ring import get_keyring
from notifications.models import WebhookEndpoint

# What the key ring binds an endpoint's secret to, beside its id and number: no credential type has it.
BINDING = "webhook-endpoint"
# Standard Webhooks' form: "whsec_" and the base64 of 24 to 64 random bytes.
PREFIX = "whsec_"
SECRET_BYTES = 32


def new_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


@sensitive_variables("secret")
def seal_secret(endpoint: WebhookEndpoint, secret: str) -> None:
    """Seal ``secret`` into the (unsaved) row as its ``secret_number``."""
    sealed = get_keyring().seal(
        credential_id=endpoint.pk, type_slug=BINDING, number=endpoint.secret_number, data={"secret": secret}
    )
    endpoint.ciphertext = sealed.ciphertext
    endpoint.key_id = sealed.key_id


def open_secret(endpoint: WebhookEndpoint) -> str:
    """The secret, to sign with and drop (DecryptionError if the row's token is not this row's)."""
    payload = get_keyring().open(
        credential_id=endpoint.pk,
        type_slug=BINDING,
        number=endpoint.secret_number,
        ciphertext=endpoint.ciphertext,
        key_id=endpoint.key_id,
    )
    return str(payload["secret"])


# Counted by check_encryption_keys and re-encrypted by rotate_encryption_keys with the credentials
# (registered by the app's ready()): the binding's id is the endpoint's own, its number secret_number.
SEALED_SECRETS = SealedTable(
    "webhook endpoints",
    WebhookEndpoint,
    ("pk", "id", "name", "id", "secret_number", "key_id", "ciphertext"),
    Q(),
    False,
    slug_of=lambda _: BINDING,
    noun="webhook endpoint",
)
