"""API authentication: hashed expiring tokens, the token endpoint's rate limit, and lockout after failed logins."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone
from knox.models import AuthToken
from rest_framework.test import APIClient

from tests.factories import PASSWORD, make_user

TOKEN_URL = "/api/auth/token/"


@pytest.fixture
def alice(db):
    return make_user("alice")


def ask_token(password: str = PASSWORD, username: str = "alice", **extra):
    return APIClient().post(TOKEN_URL, {"username": username, "password": password}, format="json", **extra)


def test_a_token_authenticates_and_only_its_hash_is_stored(alice):
    response = ask_token()
    assert response.status_code == 200
    token = response.json()["token"]
    assert token.startswith("lk_")
    stored = AuthToken.objects.get(user=alice)
    assert token not in (stored.digest, stored.token_key)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get("/api/credentials/").status_code == 200


def test_an_expired_or_unknown_token_is_refused(alice):
    instance, token = AuthToken.objects.create(alice)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    AuthToken.objects.filter(pk=instance.pk).update(expiry=timezone.now() - timedelta(seconds=1))
    response = client.get("/api/credentials/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    client.credentials(HTTP_AUTHORIZATION="Token lk_" + "0" * 64)
    assert client.get("/api/credentials/").status_code == 401


def test_a_wrong_password_is_a_400_that_says_nothing_of_which_part_was_wrong(alice):
    for response in (ask_token("wrong"), ask_token(username="nobody")):
        assert response.status_code == 400
        assert response.json()["errors"] == {
            "non_field_errors": ["Unable to log in with the username and password given."]
        }
    inactive = make_user("bob", is_active=False)
    assert ask_token(username=inactive.username).status_code == 400


def test_repeated_failures_lock_the_account_from_that_address_everywhere(alice, client):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert ask_token("wrong").status_code == 400
    assert ask_token("wrong").status_code == 429  # the failure that reaches the limit locks
    locked = ask_token()  # the right password, too late
    assert locked.status_code == 429
    assert locked.json()["code"] == "locked_out"
    assert int(locked["Retry-After"]) > 0
    # The admin's login form shares the count: the same user from the same address is refused there too.
    response = client.post("/admin/login/", {"username": "alice", "password": PASSWORD})
    assert response.status_code == 429
    # Another address is not locked out by these failures.
    assert ask_token(REMOTE_ADDR="10.9.8.7").status_code == 200


def test_the_token_endpoint_is_rate_limited_per_address(alice):
    rate = int(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["auth_token"].split("/")[0])
    for _ in range(rate):
        assert ask_token().status_code == 200
    throttled = ask_token()
    assert throttled.status_code == 429
    assert throttled.json()["code"] == "throttled"
    assert "Retry-After" in throttled
    assert ask_token(REMOTE_ADDR="10.1.2.3").status_code == 200


def test_the_api_speaks_json_only(alice):
    client = APIClient()
    client.force_authenticate(alice)
    assert client.get("/api/credentials/", HTTP_ACCEPT="text/html").status_code == 406
    response = client.post("/api/credentials/", "name=x", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415


def test_an_unknown_api_path_answers_in_the_api_s_shape(alice):
    response = APIClient().get("/api/no-such-thing/")
    assert response.status_code == 404
    assert response.json() == {"detail": "No such endpoint.", "code": "not_found"}


def test_a_request_reads_only_its_own_token_and_expired_ones_go_at_the_next_login(alice):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    stale = [AuthToken.objects.create(alice, expiry=timedelta(seconds=-1)) for _ in range(3)]
    _, token = AuthToken.objects.create(alice)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    with CaptureQueriesContext(connection) as captured:
        assert client.get("/api/credential-types/").status_code == 200
    token_reads = [q["sql"] for q in captured.captured_queries if "knox_authtoken" in q["sql"]]
    assert len(token_reads) == 1 and "token_key" in token_reads[0]  # not every token of the user
    assert AuthToken.objects.filter(user=alice).count() == 4
    expired = APIClient()
    expired.credentials(HTTP_AUTHORIZATION=f"Token {stale[0][1]}")
    assert expired.get("/api/credential-types/").status_code == 401
    assert AuthToken.objects.filter(user=alice).count() == 3  # the expired token used is deleted, as knox does
    assert ask_token().status_code == 200
    assert AuthToken.objects.filter(user=alice, expiry__lt=timezone.now()).count() == 0


def test_the_openapi_schema_still_describes_token_authentication(alice):
    client = APIClient()
    client.force_authenticate(alice)
    schema = client.get("/api/schema/?format=json").json()
    scheme = schema["components"]["securitySchemes"]["knoxApiToken"]
    assert (scheme["type"], scheme["in"], scheme["name"]) == ("apiKey", "header", "Authorization")
