"""What git is given for a credential: a type that cannot say it is refused with a clear error."""

import uuid

import pytest

from credentials.door import RevealedSecret
from credentials.redaction import Redactor
from credentials.types import CredentialType, Field
from plugins.git.command import GitError, auth_for, parse_repo_url


class _HttpsWithoutGitAuth(CredentialType):
    """A type from another app that says "https" but not what git sends (no slug: not registered)."""

    name = "Token without git auth"
    git_transport = "https"
    fields = (Field(name="token", label="Token", secret=True, required=True),)


def test_an_https_type_that_does_not_say_what_git_sends_is_refused(monkeypatch):
    monkeypatch.setattr("plugins.git.command.get_type", lambda slug: _HttpsWithoutGitAuth())
    secret = RevealedSecret(
        credential_id=uuid.uuid4(),
        type_slug="other_app_token",
        values={"token": "a-token-of-some-length"},
        secret_names=("token",),
        allowed_hosts=("git.example.com",),
    )
    # Before: "cannot unpack non-iterable NoneType object", a TypeError out of the sync.
    with pytest.raises(GitError, match="cannot be used with git"):
        auth_for(secret, parse_repo_url("https://git.example.com/team/repo.git"), Redactor())
