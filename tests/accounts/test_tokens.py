"""The API tokens page: create with a name (the value shown once, to its owner), list, revoke; ceilings; audit."""

import re

import pytest
from django.test import Client
from django.urls import reverse
from knox.models import AuthToken
from rest_framework.test import APIClient

from accounts.models import TOKEN_NAME_MAX_LENGTH, TokenLabel
from accounts.services import MAX_LIVE_TOKENS, api_token_create
from audit.models import AuditAction, AuditEvent
from tests.canary import Haystack, dump_database
from tests.factories import make_user
from tests.pages.conftest import client_for

TOKENS = reverse("accounts:tokens")
TOKEN_VALUE = re.compile(r'id="new-token"[^>]*value="(lk_[0-9a-f]+)"')


def create(client: Client, name: str = "CI deploys"):
    return client.post(TOKENS, {"name": name})


def token_in(response) -> str:
    match = TOKEN_VALUE.search(response.content.decode())
    assert match, "the page shows the new token"
    return match.group(1)


def api_status(token: str) -> int:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return api.get("/api/credentials/").status_code


def revoke_url(key: str) -> str:
    return reverse("accounts:token-revoke", kwargs={"key": key})


def test_the_page_needs_a_login(client, db):
    assert client.get(TOKENS).status_code == 302
    assert client.post(TOKENS, {"name": "x"}).status_code == 302
    assert AuthToken.objects.count() == 0


def test_a_token_is_created_shown_once_and_authenticates(owner, owner_client):
    created = create(owner_client)
    assert created.status_code == 200
    assert "no-store" in created["Cache-Control"]
    token = token_in(created)
    row = AuthToken.objects.get(user=owner)
    assert token.startswith(row.token_key) and token != row.token_key
    assert TokenLabel.objects.get(token=row).name == "CI deploys"
    assert api_status(token) == 200

    listed = owner_client.get(TOKENS).content.decode()
    assert "CI deploys" in listed and row.token_key in listed
    assert token not in listed  # the list shows its first characters, never the value


def test_the_list_shows_only_ones_own_live_tokens(owner, owner_client, stranger):
    api_token_create(user=stranger, name="stranger's robot")
    api_token_create(user=owner, name="mine")
    AuthToken.objects.create(owner)  # from the token endpoint: no name
    page = owner_client.get(TOKENS).content.decode()
    assert "mine" in page and "(from the token endpoint)" in page
    assert "stranger" not in page.replace('class="who">owner', "")
    assert page.count(">Revoke ") == 2


def test_revoking_a_token_stops_it_authenticating(owner, owner_client):
    token = token_in(create(owner_client))
    key = AuthToken.objects.get(user=owner).token_key
    revoked = owner_client.post(revoke_url(key), follow=True)
    assert revoked.status_code == 200
    assert "revoked" in revoked.content.decode()
    assert not AuthToken.objects.filter(user=owner).exists()
    assert not TokenLabel.objects.exists()
    assert api_status(token) == 401
    assert owner_client.post(revoke_url(key)).status_code == 404  # gone


def test_another_users_token_answers_404_and_stays(owner_client, stranger):
    theirs = api_token_create(user=stranger, name="theirs")
    assert owner_client.post(revoke_url(theirs.key)).status_code == 404
    assert owner_client.post(revoke_url("lk_doesnotexist")).status_code == 404
    assert AuthToken.objects.filter(user=stranger).count() == 1
    assert api_status(theirs.value) == 200


def test_revoking_is_a_post_with_a_csrf_token(owner, owner_client):
    issued = api_token_create(user=owner, name="kept")
    assert owner_client.get(revoke_url(issued.key)).status_code == 405
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(owner)
    assert strict.post(revoke_url(issued.key)).status_code == 403
    assert AuthToken.objects.filter(user=owner).count() == 1
    page = strict.get(TOKENS)
    csrf = page.cookies["csrftoken"].value
    assert strict.post(revoke_url(issued.key), {"csrfmiddlewaretoken": csrf}).status_code == 302
    assert not AuthToken.objects.filter(user=owner).exists()


def test_creating_needs_a_csrf_token(owner):
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(owner)
    assert strict.post(TOKENS, {"name": "x"}).status_code == 403
    assert not AuthToken.objects.exists()


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("", "This field is required."),
        ("   ", "This field is required."),
        ("x" * (TOKEN_NAME_MAX_LENGTH + 1), f"at most {TOKEN_NAME_MAX_LENGTH} characters"),
    ],
)
def test_a_bad_name_is_a_field_error_and_makes_nothing(owner_client, name, error):
    refused = create(owner_client, name)
    assert refused.status_code == 200
    assert error in refused.content.decode()
    assert 'id="new-token"' not in refused.content.decode()
    assert not AuthToken.objects.exists()


def test_the_longest_name_is_accepted(owner, owner_client):
    token_in(create(owner_client, "x" * TOKEN_NAME_MAX_LENGTH))
    assert TokenLabel.objects.get().name == "x" * TOKEN_NAME_MAX_LENGTH


def test_past_the_ceiling_of_live_tokens_a_clear_error(owner, owner_client):
    for number in range(MAX_LIVE_TOKENS - 1):
        api_token_create(user=owner, name=f"robot {number}")
    token_in(create(owner_client, "the twentieth"))
    refused = create(owner_client, "one too many")
    assert refused.status_code == 200
    assert f"You have {MAX_LIVE_TOKENS} live tokens, the most allowed" in refused.content.decode()
    assert AuthToken.objects.filter(user=owner).count() == MAX_LIVE_TOKENS

    # An expired one leaves room: it no longer counts, and is deleted.
    AuthToken.objects.filter(user=owner, label__name="robot 0").update(expiry="2000-01-01T00:00:00Z")
    token_in(create(owner_client, "one too many"))
    assert AuthToken.objects.filter(user=owner).count() == MAX_LIVE_TOKENS
    assert not TokenLabel.objects.filter(name="robot 0").exists()


def test_creating_and_revoking_are_audited_without_the_value(owner, owner_client):
    token = token_in(create(owner_client, "audited"))
    key = AuthToken.objects.get(user=owner).token_key
    owner_client.post(revoke_url(key))
    events = list(AuditEvent.objects.order_by("id").values_list("action", "actor", "details", "ip"))
    assert events == [
        (AuditAction.TOKEN_CREATED, owner.pk, {"token": key, "name": "audited"}, "127.0.0.1"),
        (AuditAction.TOKEN_REVOKED, owner.pk, {"token": key, "name": "audited"}, "127.0.0.1"),
    ]
    assert token not in str(events)


def test_the_value_is_in_one_response_and_nowhere_in_the_database(owner, stranger, caplog):
    """The canary: a token's value reaches its owner once, in the creation's response, and nothing keeps it."""
    haystack = Haystack()
    owner_client, stranger_client = client_for(owner), client_for(stranger)
    created = create(owner_client, "canary")
    token = token_in(created)
    responses = [
        owner_client.get(TOKENS),
        owner_client.get(reverse("credentials:list")),
        owner_client.get(reverse("accounts:password-change")),
        stranger_client.get(TOKENS),
        create(owner_client, "x" * (TOKEN_NAME_MAX_LENGTH + 1)),
        owner_client.post(revoke_url(AuthToken.objects.get(user=owner).token_key), follow=True),
        owner_client.get(TOKENS),
    ]
    for number, response in enumerate(responses):
        haystack.add(f"response {number} body", response.content.decode())
        haystack.add(f"response {number} headers", dict(response.headers))
    haystack.add("creation headers", dict(created.headers))
    haystack.add("owner session", dict(owner_client.session))
    haystack.add("log", caplog.text)
    dump_database(haystack, "database")
    assert haystack.leaks({token}) == []
    assert created.content.decode().count(token) == 1


def test_the_navigation_links_the_account_and_the_api_docs(owner_client):
    page = owner_client.get(reverse("credentials:list")).content.decode()
    assert f'href="{TOKENS}"' in page
    assert f'href="{reverse("api-docs")}"' in page
    account = owner_client.get(TOKENS).content.decode()
    assert f'href="{reverse("accounts:password-change")}"' in account


def test_a_user_made_elsewhere_sees_an_empty_list(db):
    client = client_for(make_user("newcomer"))
    assert "You have no live tokens." in client.get(TOKENS).content.decode()


def test_the_list_costs_the_same_however_many_tokens(owner, owner_client, django_assert_num_queries):
    api_token_create(user=owner, name="first")
    # session, user, the tokens with their names, and the navigation's count of access requests to review
    with django_assert_num_queries(4):
        owner_client.get(TOKENS)
    for number in range(5):
        api_token_create(user=owner, name=f"robot {number}")
    with django_assert_num_queries(4):
        assert owner_client.get(TOKENS).content.decode().count(">Revoke ") == 6
