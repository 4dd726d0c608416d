"""Fixtures shared by the API tests: an authenticated client and a token."""

import pytest
from knox.models import get_token_model
from rest_framework.test import APIClient


@pytest.fixture
def api_client(owner) -> APIClient:
    """A client authenticated as ``owner`` (no token or session needed)."""
    client = APIClient()
    client.force_authenticate(owner)
    return client


@pytest.fixture
def owner_token(owner) -> str:
    """A knox token for ``owner``, for the header ``Authorization: Token <key>``."""
    _, token = get_token_model().objects.create(user=owner)
    return token
