"""Custom types' HTTP test: a request described in the type's test spec, under the same rules as built-ins.

A test spec, as staff write it in the admin::

    {"url": "{base_url}/v1/me", "method": "GET",
     "headers": {"Authorization": "Bearer {api_key}"}, "expect_status": [200]}

``{name}`` is replaced by the credential's field of that name. Secrets may appear in headers only:
a URL ends up in the remote's access logs. The URL's host must be one of the credential's allowed
hosts, as for every test.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from django.views.decorators.debug import sensitive_variables

from credentials.door import RevealedSecret
from credentials.redaction import Redactor
from credentials.testers import http
from credentials.testers.base import Tester, TestFailed
from credentials.types.base import TEST_SPEC_PLACEHOLDER as _PLACEHOLDER
from credentials.types.schema import Field

KEYS = {"url", "method", "headers", "expect_status"}
METHODS = ("GET", "HEAD")
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$")


def validate_test_spec(spec: Any, fields: Iterable[Field]) -> list[str]:
    """Problems with a custom type's test spec (empty: no test, which is allowed), as messages."""
    if spec in (None, {}):
        return []
    if not isinstance(spec, Mapping):
        return ['Write the test as a JSON object, such as {"url": "{base_url}/me"}.']
    by_name = {f.name: f for f in fields}
    problems = [f"Unknown key '{key}'." for key in sorted(set(spec) - KEYS)]
    url = spec.get("url")
    if not isinstance(url, str) or not url.strip():
        problems.append("'url' is required: a URL, which may start with a field such as {base_url}.")
    else:
        for name in _PLACEHOLDER.findall(url):
            if name not in by_name:
                problems.append(f"'url' names {{{name}}}, which is not a field of this type.")
            elif by_name[name].secret:
                problems.append(f"'url' may not hold the secret {{{name}}}: put secrets in headers.")
        if not re.match(r"^(https?://|\{[a-z][a-z0-9_]*\})", url):
            problems.append("'url' must start with http://, https:// or a field such as {base_url}.")
    if spec.get("method", "GET") not in METHODS:
        problems.append(f"'method' must be one of {', '.join(METHODS)}.")
    headers = spec.get("headers", {})
    if not isinstance(headers, Mapping) or not all(isinstance(v, str) for v in headers.values()):
        problems.append("'headers' must map header names to strings.")
    else:
        for name, value in headers.items():
            if not _HEADER_NAME.match(str(name)):
                problems.append(f"'{str(name)[:100]}' is not a header name.")
            problems.extend(
                f"Header '{name}' names {{{field}}}, which is not a field of this type."
                for field in _PLACEHOLDER.findall(value)
                if field not in by_name
            )
    expected = spec.get("expect_status", [])
    if not isinstance(expected, list) or not all(
        isinstance(code, int) and not isinstance(code, bool) and 200 <= code <= 599 for code in expected
    ):
        problems.append("'expect_status' must be a list of HTTP statuses (200 to 599); empty means any 2xx.")
    return problems


@sensitive_variables("values")
def _fill(template: str, values: Mapping[str, Any]) -> str:
    return _PLACEHOLDER.sub(lambda m: str(values.get(m[1], "") if values.get(m[1]) is not None else ""), template)


class CustomHTTPTester(Tester):
    """The test a custom type's spec describes."""

    timeout = 10.0

    def __init__(self, spec: Mapping[str, Any], fields: Iterable[Field]):
        problems = validate_test_spec(spec, fields)
        self.spec = spec
        self.problems = problems

    @sensitive_variables("headers")
    def check(self, secret: RevealedSecret, redactor: Redactor) -> tuple[str, dict[str, Any]]:
        if self.problems:
            raise TestFailed("This type's test spec is invalid: " + " ".join(self.problems))
        url = _fill(self.spec["url"], secret.values)
        headers = {name: _fill(value, secret.values) for name, value in self.spec.get("headers", {}).items()}
        answer = http.request(
            secret,
            url,
            headers=headers,
            redactor=redactor,
            timeout=self.timeout,
            method=self.spec.get("method", "GET"),
        )
        expected = self.spec.get("expect_status") or []
        if (answer.status not in expected) if expected else not answer.ok:
            raise TestFailed(f"{url} answered {answer.summary()}", status=answer.status)
        return f"{url} answered {answer.status} {answer.reason}.", {"status": answer.status}
