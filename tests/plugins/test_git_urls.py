"""plugins/git/command.py's parsing of repository URLs and refs: what is accepted, and what is refused and why."""

from __future__ import annotations

import pytest

from plugins.git.command import HTTPSAuth, RepoLocation, SSHAuth, parse_repo_url, validate_ref


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "https://github.com/acme/plugin.git",
            RepoLocation("https://github.com/acme/plugin.git", "https", "github.com", None, "/acme/plugin.git", None),
        ),
        (
            "  https://Git.Example.COM:8443/group/sub/repo  ",
            RepoLocation(
                "https://Git.Example.COM:8443/group/sub/repo", "https", "git.example.com", 8443, "/group/sub/repo", None
            ),
        ),
        (
            "ssh://git@github.com/acme/plugin.git",
            RepoLocation("ssh://git@github.com/acme/plugin.git", "ssh", "github.com", None, "/acme/plugin.git", "git"),
        ),
        (
            "ssh://root@127.0.0.1:2222/srv/git/repo.git",
            RepoLocation(
                "ssh://root@127.0.0.1:2222/srv/git/repo.git", "ssh", "127.0.0.1", 2222, "/srv/git/repo.git", "root"
            ),
        ),
        (
            "ssh://gitlab.example.com/acme/plugin.git",
            RepoLocation(
                "ssh://gitlab.example.com/acme/plugin.git", "ssh", "gitlab.example.com", None, "/acme/plugin.git", None
            ),
        ),
        (
            "git@github.com:acme/plugin.git",
            RepoLocation("git@github.com:acme/plugin.git", "ssh", "github.com", None, "acme/plugin.git", "git"),
        ),
        (
            "github.com:acme/plugin.git",
            RepoLocation("github.com:acme/plugin.git", "ssh", "github.com", None, "acme/plugin.git", None),
        ),
        (
            "root@127.0.0.1:/srv/git/repo.git",
            RepoLocation("root@127.0.0.1:/srv/git/repo.git", "ssh", "127.0.0.1", None, "/srv/git/repo.git", "root"),
        ),
    ],
)
def test_accepted_urls(url, expected):
    assert parse_repo_url(url) == expected


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("", "Enter the repository's URL"),
        ("   ", "Enter the repository's URL"),
        ("http://github.com/acme/plugin.git", "in clear"),
        ("HTTP://github.com/acme/plugin.git", "in clear"),
        ("file:///srv/git/repo.git", "file:// URLs are not allowed"),
        ("git://github.com/acme/plugin.git", "git:// URLs are not allowed"),
        ("ftp://example.com/repo.git", "ftp:// URLs are not allowed"),
        ("ext::sh -c touch% /tmp/pwned", "spaces"),
        ("ext::sh", "Transport helper"),
        ("fd::17", "Transport helper"),
        ("/srv/git/repo.git", "local path"),
        ("./repo", "local path"),
        ("repo.git", "local path"),
        ("https://x-access-token:ghp_secret@github.com/acme/plugin.git", "do not put a secret in the URL"),
        ("https://ghp_secret@github.com/acme/plugin.git", "do not put a secret in the URL"),
        ("ssh://git:hunter2@github.com/acme/plugin.git", "do not put a secret in the URL"),
        ("-uhttps://github.com/acme/plugin.git", "cannot start with '-'"),
        ("--upload-pack=touch /tmp/pwned", "spaces"),
        ("--upload-pack=touch", "cannot start with '-'"),
        ("ssh://-oProxyCommand=x/repo", "not a host name"),
        ("-oProxyCommand=x:repo", "cannot start with '-'"),
        ("git@github.com:-repo", "cannot start with '-'"),
        ("-x@host:repo", "cannot start with '-'"),
        ("https://github.com/acme plugin.git", "spaces"),
        ("https://github.com/acme/plugin.git\n", None),  # stripped: accepted
        ("https://github.com/acme/\nplugin.git", "control characters"),
        ("https://github.com/acme/\tplugin.git", "spaces"),
        ("https://github.com/acme/\x00plugin.git", "control characters"),
        ("https://github.com", "no repository"),
        ("https://github.com/", "no repository"),
        ("ssh://git@github.com", "no repository"),
        ("git@github.com:", "no repository"),
        ("https:///acme/plugin.git", "no host"),
        ("https://github.com:99999/acme/plugin.git", "port"),
        ("https://github.com/acme/plugin.git?x=1", "query"),
        ("https://github.com/acme/plugin.git#main", "fragment"),
        ("https://bad_host!/acme/plugin.git", "not a host name"),
        ("ssh://g$t@github.com/acme/plugin.git", "not an SSH user name"),
    ],
)
def test_refused_urls(url, reason):
    if reason is None:
        assert parse_repo_url(url).url == url.strip()
        return
    with pytest.raises(ValueError) as caught:
        parse_repo_url(url)
    assert reason.lower() in str(caught.value).lower()


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("", ""),
        ("  ", ""),
        ("main", "main"),
        (" main ", "main"),
        ("release/1.2", "release/1.2"),
        ("feature/deep/name-with.dots_and-dashes", "feature/deep/name-with.dots_and-dashes"),
        ("v1.0.0", "v1.0.0"),
        ("deadbee", "deadbee"),
        ("0123456789abcdef0123456789abcdef01234567", "0123456789abcdef0123456789abcdef01234567"),
        ("DEADBEEF", "DEADBEEF"),
        ("café", "café"),
    ],
)
def test_accepted_refs(ref, expected):
    assert validate_ref(ref) == expected


@pytest.mark.parametrize(
    "ref",
    [
        "-main",
        "--upload-pack=evil",
        "-c",
        "main..other",
        "..",
        "has space",
        "tab\tname",
        "new\nline",
        "nul\x00",
        "tilde~1",
        "caret^",
        "colon:name",
        "question?",
        "star*",
        "bracket[",
        "back\\slash",
        "/leading",
        "trailing/",
        "double//slash",
        "ends.",
        ".hidden",
        "dir/.hidden",
        "name.lock",
        "dir/name.lock/x",
        "at@{brace",
        "@",
        "x" * 256,
    ],
)
def test_refused_refs(ref):
    with pytest.raises(ValueError, match="is not a branch, tag or commit id"):
        validate_ref(ref)


def test_auth_reprs_never_show_values():
    assert "hunter2" not in repr(HTTPSAuth(username="x-access-token", password="hunter2"))
    auth = SSHAuth(
        private_key="-----BEGIN OPENSSH PRIVATE KEY-----", passphrase="hunter2", username="git", known_hosts=""
    )
    assert "hunter2" not in repr(auth) and "PRIVATE" not in repr(auth)
