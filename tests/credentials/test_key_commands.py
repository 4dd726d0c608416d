"""Key commands: a new key printed alone, and a report of which keys protect which rows and versions."""

from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command

from credentials.keys import inventory
from credentials.keys.ring import key_id_for
from credentials.models import Credential, CredentialVersion
from credentials.services import credential_update
from credentials.versions.services import credential_version_destroy
from tests.factories import make_credential


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_generate_prints_one_new_key_and_nothing_else():
    first, second = run("generate_encryption_key"), run("generate_encryption_key")
    assert first != second
    Fernet(first.strip().encode())  # a valid key
    assert first.count("\n") == 1


def test_check_counts_rows_per_key_and_says_when_an_old_key_is_free(owner, settings, fresh_key):
    old = django_settings.FERNET_KEYS[0]
    make_credential(owner, name="under-old")
    settings.FERNET_KEYS = [fresh_key, old]
    make_credential(owner, name="under-new")
    output = run("check_encryption_keys")
    assert f"key 1 ({key_id_for(fresh_key.encode())}, encrypts new values): 1 rows, 1 versions" in output
    assert f"key 2 ({key_id_for(old.encode())}, decrypts only): 1 rows, 1 versions" in output
    assert "Every row and version decrypts" in output
    Credential.objects.filter(name="under-old").delete()
    assert "key 2 protects no row or version: it may be removed" in run("check_encryption_keys")


def test_check_names_every_row_no_configured_key_opens(owner, settings, fresh_key, monkeypatch):
    monkeypatch.setattr(inventory, "BATCH", 2)  # several batches: the paging must not skip a row
    credentials = [make_credential(owner, name=f"c{i}") for i in range(5)]
    Credential.objects.filter(pk=credentials[1].pk).update(ciphertext=credentials[2].ciphertext)  # moved
    settings.FERNET_KEYS = [fresh_key]  # the key of every row is gone
    err = StringIO()
    with pytest.raises(CommandError, match=r"5 credential\(s\) and 5 version\(s\)"):
        call_command("check_encryption_keys", stdout=StringIO(), stderr=err)
    assert all(f"unreadable: c{i} ({credentials[i].pk}): " in err.getvalue() for i in range(5))
    assert all(f"unreadable: c{i} ({credentials[i].pk}) version 1: " in err.getvalue() for i in range(5))


def test_check_finds_a_tampered_row_under_a_configured_key(owner):
    credential = make_credential(owner, name="tampered")
    other = make_credential(owner, name="other")
    Credential.objects.filter(pk=credential.pk).update(ciphertext=other.ciphertext)
    with pytest.raises(CommandError, match="1 credential"):
        call_command("check_encryption_keys", stdout=StringIO(), stderr=StringIO())
    assert "Every row and version decrypts" in run("check_encryption_keys", "--quick")  # ids alone cannot see it


def test_check_counts_opens_and_names_kept_versions(owner, settings, fresh_key, monkeypatch):
    monkeypatch.setattr(inventory, "BATCH", 2)  # several batches of versions too
    old = django_settings.FERNET_KEYS[0]
    credentials = [make_credential(owner, secret="version-1-value", name=f"h{i}") for i in range(3)]
    settings.FERNET_KEYS = [fresh_key, old]
    for credential in credentials:  # versions 2 and 3 under the new key; version 1 stays under the old one
        for n in (2, 3):
            credential_update(actor=owner, credential_id=credential.pk, changes={"fields": {"token": f"value-{n}-x"}})
    credential_version_destroy(actor=owner, credential_id=credentials[0].pk, number=2)  # no token: not counted
    output = run("check_encryption_keys")
    assert f"key 1 ({key_id_for(fresh_key.encode())}, encrypts new values): 3 rows, 5 versions" in output
    assert f"key 2 ({key_id_for(old.encode())}, decrypts only): 0 rows, 3 versions" in output
    assert "protects no row" not in output and "Every row and version decrypts" in output

    # One version's ciphertext altered: still under a configured key, so only opening it finds it.
    altered = CredentialVersion.objects.get(credential=credentials[1], number=3)
    token = altered.ciphertext
    CredentialVersion.objects.filter(pk=altered.pk).update(
        ciphertext=token[:-8] + ("A" if token[-8] != "A" else "B") + token[-7:]
    )
    err = StringIO()
    with pytest.raises(CommandError, match=r"0 credential\(s\) and 1 version\(s\)"):
        call_command("check_encryption_keys", stdout=StringIO(), stderr=err)
    assert err.getvalue().startswith(f"unreadable: h1 ({credentials[1].pk}) version 3: ")
    assert "value-" not in err.getvalue()
    assert "Every row and version decrypts" in run("check_encryption_keys", "--quick")
