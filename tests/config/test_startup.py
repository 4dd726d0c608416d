"""Start-up configuration: missing or malformed keys stop the process; development makes its own."""

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.test import override_settings

from credentials.checks import check_fernet_keys
from credentials.keys.ring import KeyConfigError, get_keyring

ROOT = Path(__file__).resolve().parents[2]


def run_manage(*args, env_overrides, tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("FERNET_KEYS", "SECRET_KEY", "DEBUG")}
    env.update({"DJANGO_SETTINGS_MODULE": "config.settings", "LATCHKEY_DEV_DIR": str(tmp_path / "dev")})
    env.update(env_overrides)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def test_check_fails_without_keys_when_debug_is_off(tmp_path):
    result = run_manage("check", env_overrides={"SECRET_KEY": "x", "DEBUG": "0"}, tmp_path=tmp_path)
    assert result.returncode != 0
    assert "latchkey.E001" in result.stderr and "FERNET_KEYS is not set" in result.stderr


def test_malformed_key_is_named_by_position_never_by_value(tmp_path):
    bad = "this-is-not-a-key-but-must-not-be-printed"
    keys = f"{Fernet.generate_key().decode()},{bad}"
    result = run_manage("check", env_overrides={"SECRET_KEY": "x", "FERNET_KEYS": keys}, tmp_path=tmp_path)
    assert result.returncode != 0
    assert "FERNET_KEYS entry 2 of 2 is not a valid Fernet key" in result.stderr
    assert bad not in result.stderr + result.stdout


def test_wsgi_start_fails_without_keys(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("FERNET_KEYS", "DEBUG")}
    env.update({"SECRET_KEY": "x", "DJANGO_SETTINGS_MODULE": "config.settings", "ALLOWED_HOSTS": "x"})
    result = subprocess.run(
        [sys.executable, "-c", "import config.wsgi"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0 and "FERNET_KEYS is not set" in result.stderr


def test_secret_key_is_required_when_debug_is_off(tmp_path):
    result = run_manage("check", env_overrides={"FERNET_KEYS": Fernet.generate_key().decode()}, tmp_path=tmp_path)
    assert result.returncode != 0 and "SECRET_KEY is not set" in result.stderr


def test_development_mode_makes_private_key_files_once_and_says_so(tmp_path):
    first = run_manage("check", env_overrides={"DEBUG": "1"}, tmp_path=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "generated a development encryption key" in first.stderr
    key_file = tmp_path / "dev" / "fernet.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(key_file.parent.stat().st_mode) == 0o700
    key = key_file.read_text()
    second = run_manage("check", env_overrides={"DEBUG": "1"}, tmp_path=tmp_path)
    assert second.returncode == 0 and "generated" not in second.stderr
    assert key_file.read_text() == key


def test_the_dev_folder_is_git_ignored():
    ignored = subprocess.run(["git", "check-ignore", "-q", ".dev/fernet.key"], cwd=ROOT)
    assert ignored.returncode == 0


def test_system_check_in_process():
    with override_settings(FERNET_KEYS=[]):
        assert [e.id for e in check_fernet_keys()] == ["latchkey.E001"]
        with pytest.raises(KeyConfigError):
            get_keyring()
    with override_settings(FERNET_KEYS=["short", "short"]):
        assert [e.id for e in check_fernet_keys()] == ["latchkey.E002", "latchkey.E002"]
    assert check_fernet_keys() == []


def test_production_refuses_to_start_without_audit_keys(tmp_path):
    keys = Fernet.generate_key().decode()
    result = run_manage(
        "check", env_overrides={"SECRET_KEY": "x", "FERNET_KEYS": keys, "AUDIT_KEYS": ""}, tmp_path=tmp_path
    )
    assert result.returncode != 0
    assert "latchkey.E003" in result.stderr and "AUDIT_KEYS is not set" in result.stderr
    env = {k: v for k, v in os.environ.items() if k not in ("AUDIT_KEYS", "DEBUG")}
    env.update(
        {"SECRET_KEY": "x", "FERNET_KEYS": keys, "DJANGO_SETTINGS_MODULE": "config.settings", "ALLOWED_HOSTS": "x"}
    )
    started = subprocess.run(
        [sys.executable, "-c", "import config.wsgi"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert started.returncode != 0 and "AUDIT_KEYS is not set" in started.stderr


def test_a_malformed_audit_key_is_named_by_position_never_by_value(tmp_path):
    bad = "not-an-audit-key-and-not-to-be-printed"
    overrides = {"SECRET_KEY": "x", "FERNET_KEYS": Fernet.generate_key().decode(), "AUDIT_KEYS": bad}
    result = run_manage("check", env_overrides=overrides, tmp_path=tmp_path)
    assert result.returncode != 0 and "AUDIT_KEYS entry 1 of 1 is not a valid audit key" in result.stderr
    assert bad not in result.stderr + result.stdout


def test_development_makes_its_own_audit_key(tmp_path):
    result = run_manage("check", env_overrides={"DEBUG": "1", "AUDIT_KEYS": ""}, tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    key_file = tmp_path / "dev" / "audit.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
