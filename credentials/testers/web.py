"""Testers for tokens sent over HTTP: GitHub, GitLab, and bearer, basic and header API credentials."""

from __future__ import annotations

import base64
from typing import Any

from django.views.decorators.debug import sensitive_variables

from credentials.door import RevealedSecret
from credentials.redaction import Redactor
from credentials.testers import http
from credentials.testers.base import Tester, TestFailed
from credentials.types.builtin import GITHUB_API, GITLAB_URL


def _scopes(text: str) -> list[str]:
    return [scope.strip() for scope in text.split(",") if scope.strip()]


def _described(user: str, scopes: list[str] | None, unknown: str) -> str:
    said = f"scopes: {', '.join(scopes) or 'none'}" if scopes is not None else unknown
    return f"Authenticated as {user} ({said})."


class GitHubTokenTester(Tester):
    """GET /user with the token; GitHub names a classic token's scopes in X-OAuth-Scopes."""

    slug = "github_pat"
    timeout = 10.0

    @sensitive_variables("token")
    def check(self, secret: RevealedSecret, redactor: Redactor) -> tuple[str, dict[str, Any]]:
        token = secret["token"]
        base = secret.get("base_url") or GITHUB_API
        answer = http.request(
            secret,
            http.join(base, "/user"),
            headers={
                "Authorization": f"Bearer {token}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": "2022-11-28",
            },
            redactor=redactor,
            timeout=self.timeout,
        )
        if not answer.ok:
            raise TestFailed(f"GitHub refused the token: {answer.summary()}", status=answer.status)
        user = _login(answer.json(), "login")
        header = answer.headers.get("x-oauth-scopes")
        scopes = _scopes(header) if header is not None else None
        message = _described(user, scopes, "a fine-grained token: GitHub does not list its permissions")
        return message, {"user": user, "scopes": scopes}


class _GitLabTester(Tester):
    timeout = 10.0
    credential_field = ""

    def auth_headers(self, token: str) -> dict[str, str]:
        raise NotImplementedError

    def scopes(self, secret: RevealedSecret, base: str, headers: dict, redactor: Redactor) -> list[str] | None:
        return None

    @sensitive_variables("headers")
    def check(self, secret: RevealedSecret, redactor: Redactor) -> tuple[str, dict[str, Any]]:
        base = secret.get("base_url") or GITLAB_URL
        headers = self.auth_headers(secret[self.credential_field])
        answer = http.request(
            secret, http.join(base, "/api/v4/user"), headers=headers, redactor=redactor, timeout=self.timeout
        )
        if not answer.ok:
            raise TestFailed(f"GitLab refused the token: {answer.summary()}", status=answer.status)
        user = _login(answer.json(), "username")
        scopes = self.scopes(secret, base, headers, redactor)
        return _described(user, scopes, "GitLab did not say its scopes"), {"user": user, "scopes": scopes}


class GitLabTokenTester(_GitLabTester):
    """GET /api/v4/user with PRIVATE-TOKEN, then the token's own scopes from personal_access_tokens/self."""

    slug = "gitlab_pat"
    credential_field = "token"

    @sensitive_variables("token")
    def auth_headers(self, token: str) -> dict[str, str]:
        return {"PRIVATE-TOKEN": token}

    def scopes(self, secret: RevealedSecret, base: str, headers: dict, redactor: Redactor) -> list[str] | None:
        answer = http.request(
            secret,
            http.join(base, "/api/v4/personal_access_tokens/self"),
            headers=headers,
            redactor=redactor,
            timeout=self.timeout,
        )
        data = answer.json() if answer.ok else None
        return _string_list(data.get("scopes")) if isinstance(data, dict) else None


class GitLabOAuthTester(_GitLabTester):
    """GET /api/v4/user with the bearer token, then its scopes from /oauth/token/info."""

    slug = "gitlab_oauth"
    credential_field = "access_token"

    @sensitive_variables("token")
    def auth_headers(self, token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    def scopes(self, secret: RevealedSecret, base: str, headers: dict, redactor: Redactor) -> list[str] | None:
        answer = http.request(
            secret, http.join(base, "/oauth/token/info"), headers=headers, redactor=redactor, timeout=self.timeout
        )
        data = answer.json() if answer.ok else None
        if not isinstance(data, dict):
            return None
        return _string_list(data.get("scope", data.get("scopes")))


class _APITester(Tester):
    """A request to the credential's own test path under its base URL; any 2xx answer passes."""

    timeout = 10.0

    def auth_headers(self, secret: RevealedSecret, redactor: Redactor) -> dict[str, str]:
        raise NotImplementedError

    @sensitive_variables("headers")
    def check(self, secret: RevealedSecret, redactor: Redactor) -> tuple[str, dict[str, Any]]:
        url = http.join(secret["base_url"], secret.get("test_path") or "/")
        headers = self.auth_headers(secret, redactor)
        answer = http.request(secret, url, headers=headers, redactor=redactor, timeout=self.timeout)
        if not answer.ok:
            raise TestFailed(f"{url} answered {answer.summary()}", status=answer.status)
        return f"{url} answered {answer.status} {answer.reason}.", {"status": answer.status}


class BearerTester(_APITester):
    slug = "http_bearer"

    @sensitive_variables("secret")
    def auth_headers(self, secret: RevealedSecret, redactor: Redactor) -> dict[str, str]:
        return {"Authorization": f"Bearer {secret['token']}"}


class BasicTester(_APITester):
    slug = "http_basic"

    @sensitive_variables("secret", "pair")
    def auth_headers(self, secret: RevealedSecret, redactor: Redactor) -> dict[str, str]:
        pair = f"{secret['username']}:{secret['password']}"
        # The header carries base64 of user:password, which is not base64 of the password alone.
        redactor.add(pair)
        return {"Authorization": "Basic " + base64.b64encode(pair.encode()).decode()}


class HeaderTester(_APITester):
    slug = "http_header"

    @sensitive_variables("secret")
    def auth_headers(self, secret: RevealedSecret, redactor: Redactor) -> dict[str, str]:
        return {secret.get("header_name") or "X-API-Key": secret["header_value"]}


def _login(data: Any, key: str) -> str:
    if isinstance(data, dict) and isinstance(data.get(key), str):
        return data[key][:100]
    raise TestFailed("The server accepted the token but did not answer with a user.")


def _string_list(value: Any) -> list[str] | None:
    if isinstance(value, str):
        return _scopes(value.replace(" ", ","))
    if isinstance(value, list):
        return [str(item)[:100] for item in value if isinstance(item, str)]
    return None
