"""What a sync keeps of an existing checkout's .git: objects and refs, and a config written again from scratch."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from plugins.git.command import UntrustedCheckout, _distrust, parse_repo_url
from tests.integration.git_servers import git_environment

URL = "https://git.example.com/org/tools.git"


@pytest.fixture
def checkout(tmp_path) -> Path:
    path = tmp_path / "checkout"
    subprocess.run(["git", "init", "-q", str(path)], check=True, env=git_environment(), timeout=60)
    git_dir = path / ".git"
    (git_dir / "hooks" / "post-checkout").write_text("#!/bin/sh\ntouch /tmp/owned\n")
    (git_dir / "info" / "attributes").write_text("* filter=evil\n")
    (git_dir / "objects" / "info" / "alternates").write_text("/somewhere/else/objects\n")
    (git_dir / "commondir").write_text("/somewhere/else\n")
    (git_dir / "config.worktree").write_text("[core]\n\tsshCommand = touch /tmp/owned\n")
    (git_dir / "remotes").mkdir()
    (git_dir / "remotes" / "origin").write_text("URL: https://evil.example/x.git\n")
    (git_dir / "sharedindex.0123456789abcdef0123456789abcdef01234567").write_text("data\n")
    with (git_dir / "config").open("a") as config:
        config.write(
            '[url "https://evil.example/"]\n\tinsteadOf = https://git.example.com/\n'
            "[include]\n\tpath = /somewhere/else/config\n[extensions]\n\tworktreeConfig = true\n"
        )
    return path


def test_only_objects_refs_and_a_config_of_ours_remain(checkout):
    _distrust(checkout / ".git", parse_repo_url(URL))

    git_dir = checkout / ".git"
    assert sorted(entry.name for entry in git_dir.iterdir()) == [
        "HEAD",
        "config",
        "objects",
        "refs",
        "sharedindex.0123456789abcdef0123456789abcdef01234567",
    ]
    assert not (git_dir / "objects" / "info" / "alternates").exists()
    config = (git_dir / "config").read_text()
    assert f'url = "{URL}"' in config
    for planted in ("evil", "insteadof", "include", "worktreeconfig", "sshcommand"):
        assert planted not in config.lower()
    # git reads what we wrote.
    origin = subprocess.run(
        ["git", "config", "--get", "remote.origin.url"],
        capture_output=True,
        text=True,
        check=True,
        env=git_environment(GIT_DIR=str(git_dir)),
    )
    assert origin.stdout.strip() == URL


def test_a_sha256_repository_keeps_its_object_format(tmp_path):
    path = tmp_path / "sha256"
    subprocess.run(
        ["git", "init", "-q", "--object-format=sha256", str(path)], check=True, env=git_environment(), timeout=60
    )
    _distrust(path / ".git", parse_repo_url(URL))
    formats = subprocess.run(
        ["git", "rev-parse", "--show-object-format"],
        capture_output=True,
        text=True,
        check=True,
        env=git_environment(GIT_DIR=str(path / ".git")),
    )
    assert formats.stdout.strip() == "sha256"


@pytest.mark.parametrize("where", ["refs/remotes", "objects/pack", "logs"])
def test_a_symbolic_link_where_git_keeps_data_is_not_trusted(checkout, tmp_path, where):
    link = checkout / ".git" / where
    if link.exists():
        link.rmdir()
    link.parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / "elsewhere").mkdir()
    link.symlink_to(tmp_path / "elsewhere")

    with pytest.raises(UntrustedCheckout, match="is a symbolic link"):
        _distrust(checkout / ".git", parse_repo_url(URL))
