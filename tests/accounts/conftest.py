"""Fixtures for the account pages: the owner, signed in."""

import pytest

from tests.pages.conftest import client_for


@pytest.fixture
def owner_client(owner):
    return client_for(owner)
