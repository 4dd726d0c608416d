"""Fixtures for the site's pages: people with different rights over one credential."""

import pytest
from django.test import Client

from credentials.sharing import credential_share
from tests.factories import make_credential, make_user


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def owner_client(owner):
    return client_for(owner)


@pytest.fixture
def credential(owner):
    return make_credential(owner, "postgres", name="orders-db", tags=["billing"])


@pytest.fixture
def user_with_use(owner, credential):
    user = make_user("user-with-use")
    credential_share(actor=owner, credential_id=credential.pk, permissions=["use"], user=user)
    return user


@pytest.fixture
def user_with_view(owner, credential):
    user = make_user("user-with-view")
    credential_share(actor=owner, credential_id=credential.pk, permissions=["view"], user=user)
    return user
