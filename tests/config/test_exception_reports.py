"""Exception reports: a failure deep inside encryption shows where it happened, never the secret."""

import uuid

import pytest
from cryptography.fernet import Fernet
from django.test import RequestFactory
from django.views.debug import ExceptionReporter

from credentials.services import credential_create


def test_a_failure_inside_encryption_reports_no_secret(owner, monkeypatch):
    canary = f"CANARY-{uuid.uuid4().hex}"

    def failing_encrypt(self, data):
        # Like any library frame, this one holds the plaintext in its locals.
        raise RuntimeError("the cipher failed")

    monkeypatch.setattr(Fernet, "encrypt", failing_encrypt)
    request = RequestFactory().post("/admin/credentials/credential/add/", {"field__token": canary, "name": "x"})
    request.user = owner
    with pytest.raises(RuntimeError) as caught:
        credential_create(actor=owner, type_slug="github_pat", name="x", fields={"token": canary})
    error = caught.value
    reporter = ExceptionReporter(request, type(error), error, error.__traceback__)
    text, html = reporter.get_traceback_text(), reporter.get_traceback_html()
    assert "failing_encrypt" in text and "the cipher failed" in text  # the report is still useful
    assert canary not in text and canary not in html
