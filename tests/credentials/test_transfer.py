"""Export and import: selection, round trip, owners and teams, refusals that import nothing, the audit."""

import json
import os
import stat
from io import StringIO

import pytest
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command

from audit.models import AuditEvent
from credentials.keys.ring import key_id_for
from credentials.keys.transfer import BODY_FORMAT
from credentials.keys.transfer_file import seal_file
from credentials.models import Credential
from credentials.services import credential_reveal
from tests.factories import make_credential, make_user, valid_fields

PASSPHRASE = "a long enough passphrase"


def export(path, *options, passphrase=PASSPHRASE) -> str:
    out = StringIO()
    call_command("export_credentials", "--output", str(path), *options, stdin=StringIO(passphrase + "\n"), stdout=out)
    return out.getvalue()


def import_(path, *options, passphrase=PASSPHRASE) -> str:
    out = StringIO()
    call_command("import_credentials", str(path), *options, stdin=StringIO(passphrase + "\n"), stdout=out)
    return out.getvalue()


def refused(command, *args, passphrase=PASSPHRASE) -> tuple[str, str]:
    err = StringIO()
    with pytest.raises(CommandError) as caught:
        call_command(command, *args, stdin=StringIO(passphrase + "\n"), stdout=StringIO(), stderr=err)
    return str(caught.value), err.getvalue()


def events(action):
    return list(AuditEvent.objects.filter(action=action).order_by("id"))


@pytest.fixture
def team(owner):
    group = Group.objects.create(name="ops")
    owner.groups.add(group)
    return group


def test_export_then_import_with_the_same_ids_restores_every_secret(owner, team, tmp_path):
    github = make_credential(
        owner, "github_pat", secret="gh-secret", name="gh", tags=["ci"], description="CI token", retest_daily=True
    )
    ssh = make_credential(owner, "ssh_key", secret="ssh-passphrase", name="deploy", team=team, environment="staging")
    path = tmp_path / "backup.lkx"
    assert "Exported 2 credential(s)" in export(path, "--all")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    data = path.read_bytes()
    assert b"gh-secret" not in data and b"ssh-passphrase" not in data and b"deploy" not in data
    assert [e.credential_ref for e in events("exported")] == sorted([str(github.pk), str(ssh.pk)])

    Credential.objects.all().delete()
    assert "Imported 2 credential(s)" in import_(path, "--keep-ids")
    restored = Credential.objects.get(pk=github.pk)
    assert (restored.name, restored.tags, restored.description, restored.owner) == ("gh", ["ci"], "CI token", owner)
    assert restored.retest_daily is True and Credential.objects.get(pk=ssh.pk).retest_daily is False
    assert Credential.objects.get(pk=ssh.pk).team == team
    assert Credential.objects.get(pk=ssh.pk).environment == "staging"
    assert credential_reveal(actor=owner, credential_id=github.pk, service="t")["token"] == "gh-secret"
    assert credential_reveal(actor=owner, credential_id=ssh.pk, service="t")["passphrase"] == "ssh-passphrase"
    imported = events("imported")
    assert {e.details["exported_id"] for e in imported} == {str(github.pk), str(ssh.pk)}
    assert all(PASSPHRASE not in json.dumps(e.details) for e in imported)


def test_import_seals_under_this_instances_key_bound_to_new_rows(owner, tmp_path, settings, fresh_key):
    original = make_credential(owner, secret="moving-secret", name="mover")
    path = tmp_path / "move.lkx"
    export(path, "--owner", "owner")
    Credential.objects.filter(pk=original.pk).update(is_active=False)  # frees the name
    settings.FERNET_KEYS = [fresh_key]  # another instance's key: the export does not depend on it
    import_(path)
    (copy,) = Credential.objects.filter(is_active=True)
    assert copy.pk != original.pk and copy.key_id == key_id_for(fresh_key.encode())
    assert credential_reveal(actor=owner, credential_id=copy.pk, service="t")["token"] == "moving-secret"


def test_owners_are_matched_by_name_or_given_to_owner(owner, tmp_path):
    make_credential(owner, name="mine")
    path = tmp_path / "x.lkx"
    export(path, "--all")
    owner.username = "renamed"
    owner.save()
    message, err = refused("import_credentials", str(path))
    assert "Nothing was imported" in message
    assert "no user here is named 'owner'" in err and "--owner" in err
    newcomer = make_user("newcomer")
    import_(path, "--owner", "newcomer")
    assert Credential.objects.filter(owner=newcomer, name="mine").count() == 1
    message, _ = refused("import_credentials", str(path), "--owner", "nobody")
    assert "no user named 'nobody'" in message


def test_a_taken_name_refuses_the_whole_file(owner, tmp_path):
    make_credential(owner, name="first")
    make_credential(owner, name="second")
    path = tmp_path / "x.lkx"
    export(path, "--all")
    Credential.objects.get(name="first").delete()
    count = Credential.objects.count()
    message, err = refused("import_credentials", str(path))
    assert "Nothing was imported: 1 problem" in message
    assert "'second' exists already here in production for user 'owner'" in err
    assert Credential.objects.count() == count and events("imported") == []


def test_wrong_passphrase_is_refused_clearly_and_imports_nothing(owner, tmp_path):
    make_credential(owner, name="one")
    path = tmp_path / "x.lkx"
    export(path, "--all")
    Credential.objects.all().delete()
    message, _ = refused("import_credentials", str(path), passphrase="not the passphrase at all")
    assert message.startswith("Wrong passphrase")
    assert Credential.objects.count() == 0 and events("imported") == []


@pytest.mark.parametrize("where", ["body", "header", "truncated"])
def test_an_altered_file_is_refused_and_imports_nothing(owner, tmp_path, where):
    make_credential(owner, name="one")
    path = tmp_path / "x.lkx"
    export(path, "--all")
    header, body = path.read_bytes().split(b"\n")[:2]
    if where == "body":
        flipped = b"A" if body[10:11] != b"A" else b"B"
        path.write_bytes(header + b"\n" + body[:10] + flipped + body[11:] + b"\n")
    elif where == "header":
        path.write_bytes(header.replace(b'"created_at":"', b'"created_at":"1') + b"\n" + body + b"\n")
    else:
        path.write_bytes(header + b"\n" + body[:-8] + b"\n")
    Credential.objects.all().delete()
    message, _ = refused("import_credentials", str(path))
    assert "altered" in message
    assert Credential.objects.count() == 0 and events("imported") == []


def test_not_an_export_file(db, tmp_path):
    path = tmp_path / "x.lkx"
    path.write_text("hello\n")
    assert "not a Latchkey credentials export file" in refused("import_credentials", str(path))[0]
    assert "Cannot read" in refused("import_credentials", str(tmp_path / "missing"))[0]


def test_every_credential_is_checked_before_any_is_written(owner, tmp_path):
    good = {
        "id": "6f1c3a52-1111-4c1e-9a55-111111111111",
        "type": "github_pat",
        "name": "good",
        "environment": "production",
        "description": "",
        "tags": [],
        "is_active": True,
        "owner": "owner",
        "team": None,
        "expires_at": None,
        "allowed_hosts": ["github.com", "api.github.com"],
        "fields": valid_fields("github_pat"),
    }
    bad_fields = {**good, "id": "6f1c3a52-2222-4c1e-9a55-222222222222", "name": "bad", "fields": {"token": ""}}
    bad_type = {**good, "id": "6f1c3a52-3333-4c1e-9a55-333333333333", "name": "odd", "type": "no_such_type"}
    redirected = {
        **good,
        "id": "6f1c3a52-4444-4c1e-9a55-444444444444",
        "name": "redirected",
        "type": "http_bearer",
        "fields": valid_fields("http_bearer"),
        "allowed_hosts": ["evil.example.net"],
    }
    body = {"format": BODY_FORMAT, "credentials": [good, bad_fields, bad_type, redirected]}
    path = tmp_path / "crafted.lkx"
    path.write_bytes(seal_file(json.dumps(body).encode(), PASSPHRASE))
    message, err = refused("import_credentials", str(path))
    assert "Nothing was imported: 3 problem(s)" in message
    assert "'bad'" in err and "field token" in err
    assert "Unknown credential type 'no_such_type'" in err
    assert "'redirected'" in err and "api.example.com" in err
    assert Credential.objects.count() == 0
    assert "Dry run: 1 credential(s) would be imported" in import_(
        _rewrite(path, {**body, "credentials": [good]}), "--dry-run"
    )
    assert Credential.objects.count() == 0


def _rewrite(path, body):
    path.write_bytes(seal_file(json.dumps(body).encode(), PASSPHRASE))
    return path


def test_selection_by_owner_team_type_and_environment(owner, team, tmp_path):
    other = make_user("other")
    make_credential(owner, "github_pat", name="a")
    make_credential(owner, "postgres", name="b", environment="staging")
    make_credential(owner, "github_pat", name="c", team=team)
    make_credential(other, "github_pat", name="d")

    assert "Exported 3" in export(tmp_path / "1.lkx", "--owner", "owner")
    assert "Exported 1" in export(tmp_path / "2.lkx", "--team", "ops")
    assert "Exported 3" in export(tmp_path / "3.lkx", "--type", "github_pat")
    assert "Exported 1" in export(tmp_path / "4.lkx", "--environment", "staging", "--owner", "owner")
    assert "Exported 4" in export(tmp_path / "5.lkx", "--all")
    assert "Choose what to export" in refused("export_credentials", "--output", str(tmp_path / "6.lkx"))[0]
    assert "no user named 'ghost'" in refused("export_credentials", "-o", str(tmp_path / "7"), "--owner", "ghost")[0]
    assert "no team named 'x'" in refused("export_credentials", "-o", str(tmp_path / "8"), "--team", "x")[0]
    assert "No credential matches" in refused("export_credentials", "-o", str(tmp_path / "9"), "--type", "redis")[0]
    assert not (tmp_path / "9").exists()


def test_export_refuses_to_replace_a_file_a_short_passphrase_and_unreadable_rows(owner, tmp_path):
    credential = make_credential(owner, name="one")
    other = make_credential(owner, name="two")
    path = tmp_path / "x.lkx"
    export(path, "--all")
    before = path.read_bytes()
    assert "exists already" in refused("export_credentials", "-o", str(path), "--all")[0]
    export(path, "--all", "--force")
    assert path.read_bytes() != before
    short = refused("export_credentials", "-o", str(tmp_path / "s"), "--all", passphrase="short")
    assert "at least 12 characters" in short[0]
    assert "No passphrase" in refused("export_credentials", "-o", str(tmp_path / "s"), "--all", passphrase="")[0]
    Credential.objects.filter(pk=credential.pk).update(ciphertext=Credential.objects.get(pk=other.pk).ciphertext)
    exported_before = len(events("exported"))
    message, err = refused("export_credentials", "-o", str(tmp_path / "u.lkx"), "--all")
    assert "1 credential(s) cannot be decrypted" in message and f"one ({credential.pk})" in err
    assert not (tmp_path / "u.lkx").exists() and len(events("exported")) == exported_before
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_the_passphrase_is_never_a_command_line_option(db, tmp_path):
    with pytest.raises(CommandError):
        call_command("export_credentials", "-o", str(tmp_path / "x"), "--all", "--passphrase", PASSPHRASE)
