"""A webhook endpoint's secret: sealed to its row and number, counted, checked and rotated with the credentials."""

from io import StringIO

import pytest
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command

from credentials.keys.ring import MisboundError, key_id_for
from notifications.models import WebhookEndpoint
from notifications.webhooks.endpoints import endpoint_create, endpoint_rotate_secret
from notifications.webhooks.secrets import open_secret

pytestmark = pytest.mark.django_db

URL = "http://127.0.0.1:9/hook"


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_the_secret_is_sealed_to_its_row_and_number(owner):
    made = endpoint_create(actor=owner, name="ops", url=URL)
    stored = WebhookEndpoint.objects.get(pk=made.endpoint.pk)
    assert made.secret.startswith("whsec_") and made.secret not in stored.ciphertext
    assert open_secret(stored) == made.secret
    other = endpoint_create(actor=owner, name="other", url=URL).endpoint
    other.ciphertext, other.key_id = stored.ciphertext, stored.key_id  # copied into another row
    with pytest.raises(MisboundError):
        open_secret(other)
    rotated = endpoint_rotate_secret(actor=owner, endpoint_id=stored.pk)
    assert rotated.secret != made.secret and open_secret(WebhookEndpoint.objects.get(pk=stored.pk)) == rotated.secret
    stale = WebhookEndpoint.objects.get(pk=stored.pk)
    stale.ciphertext, stale.key_id = stored.ciphertext, stored.key_id  # the old token, under the new number
    with pytest.raises(MisboundError):
        open_secret(stale)


def test_check_and_rotate_cover_endpoint_secrets(owner, settings, fresh_key):
    old = django_settings.FERNET_KEYS[0]
    made = endpoint_create(actor=owner, name="ops", url=URL)
    settings.FERNET_KEYS = [fresh_key, old]
    output = run("check_encryption_keys")
    assert f"key 2 ({key_id_for(old.encode())}, decrypts only): 0 rows, 0 versions, 1 webhook endpoints" in output
    assert "Re-encrypted 0 rows and 0 versions, 1 webhook endpoints" in run("rotate_encryption_keys")
    stored = WebhookEndpoint.objects.get(pk=made.endpoint.pk)
    assert stored.key_id == key_id_for(fresh_key.encode()) and open_secret(stored) == made.secret
    assert "key 2 protects no row or version" in run("check_encryption_keys")


def test_an_altered_endpoint_secret_is_named(owner):
    made = endpoint_create(actor=owner, name="ops", url=URL)
    WebhookEndpoint.objects.filter(pk=made.endpoint.pk).update(ciphertext=made.endpoint.ciphertext[:-8] + "AAAAAAAA")
    err = StringIO()
    with pytest.raises(CommandError):
        call_command("check_encryption_keys", stdout=StringIO(), stderr=err)
    assert "webhook endpoint ops" in err.getvalue()
