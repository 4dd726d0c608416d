"""One client address for throttling, lockout and audit: TRUSTED_PROXY_COUNT decides it; without it,
X-Forwarded-For counts for nothing."""

from __future__ import annotations

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.test import RequestFactory, override_settings
from rest_framework.test import APIClient

from audit.models import AuditEvent
from config.addresses import client_ip
from tests.config.test_startup import run_manage
from tests.factories import PASSWORD, make_user

TOKEN_URL = "/api/auth/token/"
PROXY = "127.0.0.1"  # the documented proxy, on the same machine as gunicorn
behind_one_proxy = override_settings(TRUSTED_PROXY_COUNT=1)


@pytest.fixture
def alice(db):
    return make_user("alice")


def behind_proxy(forwarded: str | None, remote: str = PROXY) -> dict[str, str]:
    """The request's META as gunicorn gives it: the connection's address, and the header if sent."""
    extra = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return extra


def ask_token(forwarded: str | None, password: str = PASSWORD, remote: str = PROXY):
    body = {"username": "alice", "password": password}
    return APIClient().post(TOKEN_URL, body, format="json", **behind_proxy(forwarded, remote))


def site_login(forwarded: str | None, client, password: str = PASSWORD):
    return client.post("/accounts/login/", {"username": "alice", "password": password}, **behind_proxy(forwarded))


def token_rate() -> int:
    return int(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["auth_token"].split("/")[0])


# --- Throttling ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("proxies", "invented"),
    [
        (0, "198.51.100.{i}"),  # no proxy trusted: the whole header is the client's invention
        (1, "198.51.100.{i}, 203.0.113.7"),  # behind one proxy: only the part left of its entry is
        (1, "not-an-address-{i}"),  # a header the proxy did not write: REMOTE_ADDR, one bucket
    ],
)
def test_invented_forwarded_addresses_do_not_mint_new_throttle_buckets(alice, proxies, invented):
    rate = token_rate()
    with override_settings(TRUSTED_PROXY_COUNT=proxies):
        statuses = [ask_token(invented.format(i=i)).status_code for i in range(2 * rate)]
    assert statuses == [200] * rate + [429] * rate


@behind_one_proxy
def test_behind_one_proxy_each_client_has_its_own_throttle_bucket(alice):
    rate = token_rate()
    for _ in range(rate):
        assert ask_token("203.0.113.1").status_code == 200
    assert ask_token("203.0.113.1").status_code == 429
    assert ask_token("198.51.100.9, 203.0.113.1").status_code == 429  # an invented hop changes nothing
    assert ask_token("203.0.113.2").status_code == 200


# --- Lockout (django-axes) -----------------------------------------------------------------


@behind_one_proxy
def test_behind_one_proxy_a_lockout_is_the_client_s_not_everyone_s(alice, client):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert ask_token("203.0.113.1", password="wrong").status_code == 400
    assert ask_token("203.0.113.1", password="wrong").status_code == 429
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"203.0.113.1"}
    # The locked-out client stays locked out, on the API, the site's and the admin's login pages alike...
    assert ask_token("203.0.113.1").status_code == 429
    assert site_login("203.0.113.1", client).status_code == 429
    admin = client.post("/admin/login/", {"username": "alice", "password": PASSWORD}, **behind_proxy("203.0.113.1"))
    assert admin.status_code == 429
    # ...and another client behind the same proxy logs in with the same username.
    assert ask_token("203.0.113.2").status_code == 200
    assert site_login("203.0.113.2", client).status_code == 302


@behind_one_proxy
def test_behind_one_proxy_failures_on_the_login_page_count_for_the_real_client(alice, client):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        site_login("203.0.113.1", client, password="wrong")
    assert site_login("203.0.113.1", client).status_code == 429
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"203.0.113.1"}
    assert site_login("203.0.113.2", client).status_code == 302


def test_without_trusted_proxies_forwarded_addresses_do_not_escape_a_lockout(alice, client):
    assert settings.TRUSTED_PROXY_COUNT == 0
    for i in range(settings.AXES_FAILURE_LIMIT - 1):
        assert ask_token(f"198.51.100.{i}", password="wrong").status_code == 400
    assert ask_token("198.51.100.200", password="wrong").status_code == 429
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {PROXY}
    assert ask_token("203.0.113.2").status_code == 429
    assert site_login("203.0.113.2", client).status_code == 429
    assert ask_token(None, remote="10.9.8.7").status_code == 200  # another connection is not locked out


# --- Audit ---------------------------------------------------------------------------------


def create_credential_via_api(user, forwarded: str):
    client = APIClient()
    client.force_authenticate(user)
    body = {"type": "github_pat", "name": "audited", "fields": {"token": "ghp_" + "a" * 36}}
    response = client.post("/api/credentials/", body, format="json", **behind_proxy(forwarded))
    assert response.status_code == 201, response.content
    return AuditEvent.objects.get(action="created", credential_id=response.json()["id"])


@behind_one_proxy
def test_behind_one_proxy_audit_events_record_the_real_client(owner):
    assert create_credential_via_api(owner, "198.51.100.9, 203.0.113.5").ip == "203.0.113.5"


def test_without_trusted_proxies_audit_events_record_the_connection(owner):
    assert create_credential_via_api(owner, "203.0.113.5").ip == PROXY


# --- The one function ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("proxies", "forwarded", "expected"),
    [
        (0, None, PROXY),
        (0, "203.0.113.5", PROXY),  # not trusted: ignored
        (1, None, PROXY),  # the proxy sent nothing: the connection's address
        (1, "203.0.113.5", "203.0.113.5"),
        (1, "anything at all, 203.0.113.5", "203.0.113.5"),  # left of the proxy's entry: the client's
        (1, " 198.51.100.1 ,203.0.113.5 ", "203.0.113.5"),
        (1, "2001:DB8::0:1", "2001:db8::1"),  # one spelling per address: one bucket, one lockout
        (1, "", PROXY),
        (1, "203.0.113.5, ", PROXY),  # the proxy's own entry is malformed: refused
        (1, "unknown", PROXY),
        (1, "203.0.113.5:4711", PROXY),
        (1, "[2001:db8::1]", PROXY),
        (1, "203.0.113.5 203.0.113.6", PROXY),
        (2, "203.0.113.5, 10.0.0.2", "203.0.113.5"),  # hops counted from the right
        (2, "198.51.100.1, 203.0.113.5, 10.0.0.2", "203.0.113.5"),
        (2, "10.0.0.2", PROXY),  # fewer hops than proxies: not written by our proxies
        (2, "bogus, 10.0.0.2", PROXY),
    ],
)
def test_client_ip_counts_trusted_hops_from_the_right(proxies, forwarded, expected):
    request = RequestFactory().get("/", **behind_proxy(forwarded))
    with override_settings(TRUSTED_PROXY_COUNT=proxies):
        assert client_ip(request) == expected


def test_every_consumer_uses_the_one_function():
    from config.api.token import ObtainTokenView

    assert settings.AXES_CLIENT_IP_CALLABLE == "config.addresses.client_ip"
    assert settings.REST_FRAMEWORK["NUM_PROXIES"] == settings.TRUSTED_PROXY_COUNT
    request = RequestFactory().get("/", REMOTE_ADDR="192.0.2.1", HTTP_X_FORWARDED_FOR="198.51.100.1")
    for throttle_class in ObtainTokenView.throttle_classes:
        assert throttle_class().get_ident(request) == "192.0.2.1"


@pytest.mark.parametrize("value", ["-1", "one", "1.5"])
def test_a_malformed_trusted_proxy_count_stops_the_start(tmp_path, value):
    result = run_manage("check", env_overrides={"DEBUG": "1", "TRUSTED_PROXY_COUNT": value}, tmp_path=tmp_path)
    assert result.returncode != 0
    assert "TRUSTED_PROXY_COUNT" in result.stderr and "whole number" in result.stderr
