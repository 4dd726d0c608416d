"""The "Test" button: queue a credential test (needs *use*); the detail page shows its status."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from config.actors import signed_in
from config.addresses import client_ip
from credentials.errors import CredentialNotFound, TestQueueUnavailable
from credentials.models import Credential, CredentialTestStatus
from credentials.permissions import USE
from credentials.testers.runs import credential_test_request
from credentials.views.common import require, visible_credential


@login_required
@require_POST
def credential_test_page(request: HttpRequest, pk: Any) -> HttpResponse:
    credential, allowed = visible_credential(request, pk)
    require(allowed, USE, "You may not use this credential.")
    try:
        credential_test_request(actor=signed_in(request.user), credential_id=credential.pk, ip=client_ip(request))
    except CredentialNotFound:
        raise Http404("Credential not found.") from None
    # CredentialPermissionDenied is a PermissionDenied: Django answers 403 with its message.
    except TestQueueUnavailable as exc:
        messages.error(request, str(exc))
    else:
        _announce(request, credential)
    return redirect("credentials:detail", pk=credential.pk)


def _announce(request: HttpRequest, credential: Credential) -> None:
    """Say where the test stands, worded and coloured by it: with tasks run in-process it is already over."""
    credential.refresh_from_db(fields=["test_status", "test_message"])
    if credential.test_status == CredentialTestStatus.PASSED:
        messages.success(request, f"The test passed: {credential.test_message}")
    elif credential.test_status == CredentialTestStatus.FAILED:
        messages.error(request, f"The test failed: {credential.test_message}")
    else:
        messages.info(request, "The test is running; this page shows its result when it ends.")
