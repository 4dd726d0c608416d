"""The tester base: what a test returns, and the rule that a test never raises, it fails with a message."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, ClassVar

from celery.exceptions import SoftTimeLimitExceeded

from credentials import outbound
from credentials.door import RevealedSecret
from credentials.errors import DestinationRefused
from credentials.redaction import Redactor

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TestOutcome:
    """A test's verdict, a message for people, and non-secret facts (a user name, scopes, a fingerprint)."""

    __test__ = False  # not a pytest test class

    passed: bool
    message: str
    facts: dict[str, Any] = field(default_factory=dict)


class TestFailed(Exception):
    """Raised inside a tester: the credential did not work, for the reason in the message."""

    __test__ = False

    def __init__(self, message: str, **facts: Any):
        super().__init__(message)
        self.facts = facts


class Tester:
    """Connect with a credential and check that it opens what it is for.

    Subclasses implement ``check`` and either return a message (passed) or raise TestFailed.
    They connect only to hosts that ``secret.check_destination`` accepts (ARCHITECTURE.md, invariant 9),
    taken from the credential itself, never from a request.
    """

    # The type this tester is for. The registry (credentials/testers/__init__.py) lists each built-in tester.
    slug: ClassVar[str] = ""
    timeout: ClassVar[float] = 5.0

    def check(self, secret: RevealedSecret, redactor: Redactor) -> tuple[str, dict[str, Any]]:
        raise NotImplementedError

    def test(self, secret: RevealedSecret, redactor: Redactor) -> TestOutcome:
        """Run ``check``; every failure becomes an outcome whose text is redacted."""
        try:
            message, facts = self.check(secret, redactor)
        except TestFailed as exc:
            return TestOutcome(False, redactor.shorten(exc), _redacted_facts(exc.facts, redactor))
        except DestinationRefused as exc:
            return TestOutcome(False, redactor.shorten(f"Refused before connecting: {exc}"))
        except SoftTimeLimitExceeded:
            return TestOutcome(False, "The test ran out of time and was stopped.")
        except TimeoutError:
            return TestOutcome(False, f"No answer within {self.timeout:g} s.")
        except (outbound.UnresolvableHost, outbound.ConnectionFailed) as exc:
            return TestOutcome(False, redactor.shorten(exc.strerror or str(exc)))
        except OSError as exc:
            return TestOutcome(False, redactor.shorten(f"Could not connect: {outbound.plain_reason(exc)}."))
        except Exception as exc:  # a library's surprise is still a failed test, not a crashed worker
            logger.warning("credential tester %s failed with %s", type(self).__name__, type(exc).__name__)
            return TestOutcome(False, redactor.shorten(f"The test failed: {type(exc).__name__}: {exc}"))
        return TestOutcome(True, redactor.shorten(message), _redacted_facts(facts, redactor))


def _redacted_facts(facts: dict[str, Any], redactor: Redactor) -> dict[str, Any]:
    def clean(value: Any) -> Any:
        if isinstance(value, str):
            return redactor.shorten(value, 500)
        if isinstance(value, list | tuple):
            return [clean(item) for item in value][:50]
        if isinstance(value, int | float | bool) or value is None:
            return value
        return redactor.shorten(str(value), 500)

    return {str(key): clean(value) for key, value in facts.items()}
