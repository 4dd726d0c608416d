"""The site's pages with Django's client: who sees what, what each may post, and bad input."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from audit.models import AuditAction, AuditEvent
from credentials.door import credential_reveal
from credentials.models import Credential
from credentials.services import credential_create
from credentials.sharing import credential_share, share_list
from credentials.teams import team_set_manager
from tests.factories import PASSWORD, ca_certificate_pem, make_credential, make_user, ssh_keypair, valid_fields
from tests.form_data import add_data, data_sent_back
from tests.integration.servers import free_port
from tests.pages.conftest import client_for

pytestmark = pytest.mark.django_db


def page_urls(credential) -> dict[str, str]:
    pk = credential.pk
    return {
        "detail": reverse("credentials:detail", kwargs={"pk": pk}),
        "edit": reverse("credentials:edit", kwargs={"pk": pk}),
        "delete": reverse("credentials:delete", kwargs={"pk": pk}),
        "shares": reverse("credentials:shares", kwargs={"pk": pk}),
        "unshare": reverse("credentials:unshare", kwargs={"pk": pk}),
    }


# --- Logging in ---------------------------------------------------------------------------------


def test_every_page_asks_for_a_login_first(client, credential):
    for url in [reverse("credentials:list"), reverse("credentials:choose-type"), *page_urls(credential).values()]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("login")), url


def test_logging_in_and_out(client, owner):
    page = client.get(reverse("login"))
    assert page.status_code == 200
    assert b'<label for="id_username">' in page.content and b'<label for="id_password">' in page.content

    refused = client.post(reverse("login"), {"username": "owner", "password": "wrong"})
    assert refused.status_code == 200
    assert b"Please enter a correct username and password" in refused.content

    welcomed = client.post(reverse("login"), {"username": "owner", "password": PASSWORD})
    assert welcomed.status_code == 302 and welcomed["Location"] == reverse("credentials:list")
    assert client.get(reverse("credentials:list")).status_code == 200

    assert client.get(reverse("logout")).status_code == 405  # logging out is a POST, so a link cannot do it
    assert client.post(reverse("logout")).status_code == 302
    assert client.get(reverse("credentials:list")).status_code == 302


def test_repeated_failed_logins_are_locked_out(client, owner, settings):
    settings.AXES_FAILURE_LIMIT = 3
    for _ in range(3):
        client.post(reverse("login"), {"username": "owner", "password": "wrong"})
    locked = client.post(reverse("login"), {"username": "owner", "password": PASSWORD})
    assert locked.status_code == 429
    assert b"Too many failed logins" in locked.content
    assert "_auth_user_id" not in client.session


# --- The list -----------------------------------------------------------------------------------


def test_the_list_shows_mine_and_what_is_shared_with_me_and_what_i_may_do(owner, credential, user_with_use):
    make_credential(make_user("someone-else"), "redis", name="not-mine")
    own = make_credential(user_with_use, "github_pat", name="my-token")

    page = client_for(user_with_use).get(reverse("credentials:list"))
    html = page.content.decode()
    assert "orders-db" in html and "my-token" in html and "not-mine" not in html
    rows = {row["credential"].name: row["actions"] for row in page.context["rows"]}
    assert rows == {"orders-db": ["use"], "my-token": ["use", "view", "change", "delete", "share"]}
    assert own.owner.get_username() in html and "owner" in html  # each row names its owner


@pytest.mark.parametrize("page", ["9223372036854775807", "1" + "0" * 5000, "-1", "1e9"])
def test_a_list_page_past_every_limit_shows_a_page_not_an_error(owner_client, credential, page):
    # Django's get_page answers the last page (or the first) without converting 5,000 digits.
    for url in (reverse("credentials:list"), reverse("plugins:list")):
        response = owner_client.get(url, {"page": page})
        assert response.status_code == 200, (url, response.status_code)


def test_the_list_filters(owner_client, owner):
    soon = timezone.now() + timedelta(days=3)
    make_credential(owner, "postgres", name="db-prod", tags=["billing"])
    make_credential(owner, "postgres", name="db-staging", environment="staging")
    make_credential(owner, "redis", name="cache", tags=["billing", "ops"], expires_at=soon)

    def names(**query) -> set[str]:
        response = owner_client.get(reverse("credentials:list"), query)
        assert response.status_code == 200
        return {row["credential"].name for row in response.context["rows"]}

    assert names() == {"db-prod", "db-staging", "cache"}
    assert names(type="postgres") == {"db-prod", "db-staging"}
    assert names(environment="staging") == {"db-staging"}
    assert names(tag="billing") == {"db-prod", "cache"}
    assert names(search="DB-") == {"db-prod", "db-staging"}
    assert names(expiring_within="7") == {"cache"}
    assert "Expiring soon" in owner_client.get(reverse("credentials:list")).content.decode()


def test_a_bad_filter_is_named_and_not_applied(owner_client, credential):
    response = owner_client.get(reverse("credentials:list"), {"type": "no-such-type", "environment": "not a slug!"})
    assert response.status_code == 200
    assert set(response.context["filters"].errors) == {"type", "environment"}
    assert "Select a valid choice" in response.content.decode()


def test_the_list_costs_the_same_queries_for_five_rows_or_forty(owner_client, owner):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert owner_client.get(reverse("credentials:list")).status_code == 200
        return len(captured)

    for index in range(5):
        make_credential(owner, "github_pat", name=f"token-{index}")
    queries()  # the first request reads what the process keeps (config/caches.py)
    few = queries()
    for index in range(5, 40):
        make_credential(owner, "github_pat", name=f"token-{index}")
    assert queries() == few


# --- Choosing a type and creating -------------------------------------------------------------------


def test_choosing_a_type_groups_them_by_category_with_descriptions(owner_client):
    html = owner_client.get(reverse("credentials:choose-type")).content.decode()
    for heading in ("Git", "Databases", "HTTP APIs"):
        assert f">{heading}</h2>" in html
    assert "A private key for git over SSH" in html
    assert reverse("credentials:create", kwargs={"type_slug": "ssh_key"}) in html
    assert owner_client.get(reverse("credentials:create", kwargs={"type_slug": "nope"})).status_code == 404


def test_the_generated_form_has_the_schema_inputs(owner_client):
    html = owner_client.get(reverse("credentials:create", kwargs={"type_slug": "postgres"})).content.decode()
    assert re.search(r'<input type="password" name="field__password"[^>]*autocomplete="new-password"', html)
    assert re.search(r'<input type="number" name="field__port" value="5432"[^>]*min="1"[^>]*max="65535"', html)
    assert '<select name="field__sslmode"' in html and '<option value="prefer" selected>' in html
    assert re.search(r'<textarea name="field__ssl_root_cert"[^>]*data-show-if="[^"]*verify-ca', html)
    assert 'for="id_field__database"' in html  # every input has its label
    assert 'aria-describedby="id_field__sslmode_helptext"' not in html  # no help text, no dangling reference

    ssh = owner_client.get(reverse("credentials:create", kwargs={"type_slug": "ssh_key"})).content.decode()
    assert re.search(r'<textarea name="field__private_key"[^>]*placeholder="-----BEGIN OPENSSH PRIVATE KEY-----"', ssh)
    assert re.search(r'<input type="checkbox"|<input type="text" name="field__username" value="git"', ssh)


def test_creating_through_the_form(owner_client, owner):
    fields = valid_fields("ssh_key", "key-passphrase")
    response = owner_client.post(
        reverse("credentials:create", kwargs={"type_slug": "ssh_key"}),
        add_data("ssh_key", fields, name="deploy-key", tags="ci, deploy"),
    )
    credential = Credential.objects.get(name="deploy-key")
    assert response.status_code == 302 and response["Location"] == page_urls(credential)["detail"]
    assert credential.owner == owner and credential.tags == ["ci", "deploy"]
    assert credential.allowed_hosts == ["git.example.com"]
    detail = owner_client.get(response["Location"]).content.decode()
    assert "saved" in detail and credential.metadata["fingerprint"] in detail


def test_every_problem_is_reported_in_one_round_and_the_secret_says_it_was_not_kept(owner_client):
    # The port is refused by the form, the environment and the host by the service's rules: all at once.
    data = add_data(
        "postgres",
        {"host": "not a host!", "port": "abc", "database": "app", "username": "app", "password": "typed-secret"},
        environment="Not Valid",
    )
    response = owner_client.post(reverse("credentials:create", kwargs={"type_slug": "postgres"}), data)
    assert response.status_code == 200
    assert {"field__port", "environment", "field__host"} <= set(response.context["form"].errors)
    html = response.content.decode()
    assert "Not kept after an error: paste it again." in html and "typed-secret" not in html
    assert not Credential.objects.exists()


def test_required_inputs_are_marked_and_a_postgres_password_is_optional(owner_client):
    form = owner_client.get(reverse("credentials:create", kwargs={"type_slug": "postgres"})).context["form"]
    html = owner_client.get(reverse("credentials:create", kwargs={"type_slug": "postgres"})).content.decode()
    assert re.search(r'<div class="field required"[^>]*>\s*<label for="id_name">Name</label>', html)
    assert re.search(r'<div class="field"[^>]*>\s*<label for="id_description">', html)  # optional: no star
    assert not form.fields["field__password"].required
    data = add_data("postgres", {"host": "db.example.com", "port": "5432", "database": "app", "username": "app"})
    response = owner_client.post(reverse("credentials:create", kwargs={"type_slug": "postgres"}), data)
    assert response.status_code == 302
    assert Credential.objects.get().secrets_set == []


def test_a_refused_form_says_why_beside_each_field_and_keeps_all_but_the_secrets(owner_client):
    data = add_data(
        "postgres",
        {"host": "db.example.com", "port": "70000", "database": "", "username": "app", "password": "typed-secret"},
        name="orders",
        description="kept on the page",
    )
    response = owner_client.post(reverse("credentials:create", kwargs={"type_slug": "postgres"}), data)
    assert response.status_code == 200
    form = response.context["form"]
    assert set(form.errors) == {"field__port", "field__database"}
    html = response.content.decode()
    assert '<ul class="errorlist" id="id_field__port_error">' in html
    assert 'value="db.example.com"' in html and "kept on the page" in html and 'value="orders"' in html
    assert "typed-secret" not in html
    assert not Credential.objects.exists()


def test_a_service_refusal_lands_beside_its_field(owner_client):
    fields = valid_fields("ssh_key", "pw")
    fields["private_key"] = "-----BEGIN OPENSSH PRIVATE KEY-----\nnot a key\n-----END OPENSSH PRIVATE KEY-----"
    response = owner_client.post(
        reverse("credentials:create", kwargs={"type_slug": "ssh_key"}), add_data("ssh_key", fields)
    )
    assert response.status_code == 200
    assert "field__private_key" in response.context["form"].errors
    assert "not a key" not in response.content.decode()


def test_a_field_hidden_by_its_condition_is_neither_checked_nor_kept(owner_client):
    fields = {**valid_fields("redis"), "tls": False, "tls_ca_cert": "left in a hidden input"}
    response = owner_client.post(
        reverse("credentials:create", kwargs={"type_slug": "redis"}), add_data("redis", fields, name="cache")
    )
    assert response.status_code == 302
    assert "tls_ca_cert" not in Credential.objects.get(name="cache").public_fields

    certificate = ca_certificate_pem()
    shown = {**valid_fields("redis"), "tls": True, "tls_ca_cert": certificate}
    owner_client.post(reverse("credentials:create", kwargs={"type_slug": "redis"}), add_data("redis", shown, name="c2"))
    assert Credential.objects.get(name="c2").public_fields["tls_ca_cert"].strip() == certificate.strip()


def test_a_team_is_offered_only_if_i_belong_to_it(owner_client, owner):
    mine, other = Group.objects.create(name="platform"), Group.objects.create(name="finance")
    owner.groups.add(mine)
    response = owner_client.get(reverse("credentials:create", kwargs={"type_slug": "github_pat"}))
    assert list(response.context["form"].fields["team"].queryset) == [mine]
    data = add_data("github_pat", valid_fields("github_pat"), team=str(other.pk))
    refused = owner_client.post(reverse("credentials:create", kwargs={"type_slug": "github_pat"}), data)
    assert "team" in refused.context["form"].errors


# --- Detail ------------------------------------------------------------------------------------------


def test_the_detail_page_shows_everything_but_the_secrets(owner_client, owner):
    credential = make_credential(owner, "ssh_key", secret="ssh-passphrase", name="deploy")
    credential_reveal(actor=owner, credential_id=credential.pk, service="plugin-sync")
    credential_share(actor=owner, credential_id=credential.pk, permissions=["use"], user=make_user("friend"))
    html = owner_client.get(page_urls(credential)["detail"]).content.decode()
    assert credential.metadata["fingerprint"] in html
    assert credential.metadata["host_key_fingerprints"][0]["fingerprint"] in html
    assert "git.example.com" in html  # allowed hosts
    assert html.count("Stored") >= 2  # the private key and the passphrase, as set, never as values
    assert "friend: use" in html  # shared with
    assert "plugin-sync" in html  # what used it
    assert "Accessed" in html and "Created" in html  # recent audit events
    for control in ("Edit", "Share", "Delete"):
        assert f">{control}</a>" in html


def test_a_user_with_use_sees_no_fields_and_no_controls(credential, user_with_use):
    html = client_for(user_with_use).get(page_urls(credential)["detail"]).content.decode()
    assert "orders-db" in html and "Never tested" in html
    assert "PostgreSQL fields" not in html and "User name" not in html  # non-secret fields need *view*
    assert "Recent activity" not in html and "Shared with" not in html
    for control in ("Edit", "Share", "Delete"):
        assert f">{control}</a>" not in html


def test_a_user_with_use_is_refused_every_change(credential, user_with_use, owner):
    client = client_for(user_with_use)
    urls = page_urls(credential)
    before = (Credential.objects.get().version, AuditEvent.objects.count(), share_list(credential))
    assert client.get(urls["edit"]).status_code == 403
    assert client.get(urls["delete"]).status_code == 403
    assert client.get(urls["shares"]).status_code == 403  # who it is shared with needs *view*
    data = add_data("postgres", valid_fields("postgres", "new-secret"), version=str(credential.version))
    assert client.post(urls["edit"], data).status_code == 403
    assert client.post(urls["delete"]).status_code == 403
    assert client.post(urls["shares"], {"user": "user-with-use", "permissions": ["change"]}).status_code == 403
    assert client.post(urls["unshare"], {"kind": "user", "id": str(user_with_use.pk)}).status_code == 403
    assert (Credential.objects.get().version, AuditEvent.objects.count(), share_list(credential)) == before


def test_a_user_with_view_sees_shares_but_cannot_change_them(credential, user_with_view):
    client = client_for(user_with_view)
    page = client.get(page_urls(credential)["shares"])
    assert page.status_code == 200 and "user-with-view" in page.content.decode()
    assert page.context["form"] is None and b"Remove" not in page.content
    assert client.post(page_urls(credential)["shares"], {"user": "x", "permissions": ["use"]}).status_code == 403


def test_a_stranger_gets_404_everywhere(credential, stranger):
    client = client_for(stranger)
    for name, url in page_urls(credential).items():
        assert client.get(url).status_code == (405 if name == "unshare" else 404), name
        if name != "detail":  # the detail page takes no POST from anyone (405)
            assert client.post(url, {"kind": "user", "id": "1"}).status_code == 404, name
    missing = reverse("credentials:detail", kwargs={"pk": "00000000-0000-0000-0000-000000000000"})
    assert client.get(missing).status_code == 404
    assert b"There is nothing here, or you may not see it" in client.get(missing).content


# --- Edit ---------------------------------------------------------------------------------------------


def test_editing_with_the_secret_left_blank_keeps_it(owner_client, owner, credential):
    url = page_urls(credential)["edit"]
    page = owner_client.get(url)
    assert "Stored; leave blank to keep." in page.content.decode()
    data = data_sent_back(page.context["form"])
    assert data["field__password"] == ""
    data["description"] = "moved to the new cluster"
    response = owner_client.post(url, data)
    assert response.status_code == 302
    credential.refresh_from_db()
    assert credential.description == "moved to the new cluster" and credential.version == 2
    assert credential_reveal(actor=owner, credential_id=credential.pk, service="check")["password"] == "s3cret-value"


def test_the_edit_page_moves_a_credential_to_a_team_its_owner_is_in(owner_client, owner, credential):
    ops, elsewhere = Group.objects.create(name="ops"), Group.objects.create(name="elsewhere")
    ops.user_set.add(owner)
    url = page_urls(credential)["edit"]
    form = owner_client.get(url).context["form"]
    assert [team.name for team in form.fields["team"].queryset] == ["ops"]  # not a team they are not in
    data = data_sent_back(form)
    data["team"] = str(ops.pk)
    assert owner_client.post(url, data).status_code == 302
    credential.refresh_from_db()
    assert credential.team == ops
    [event] = AuditEvent.objects.filter(credential_ref=str(credential.pk), action="updated")
    assert event.details["changes"]["team"] == {"old": None, "new": "ops"}
    data = data_sent_back(owner_client.get(url).context["form"])
    data["team"] = str(elsewhere.pk)
    assert owner_client.post(url, data).status_code == 200  # not offered: refused beside the field
    credential.refresh_from_db()
    assert credential.team == ops


def test_who_may_change_but_not_share_is_not_offered_a_team(owner, credential):
    editor = make_user("editor")
    credential_share(actor=owner, credential_id=credential.pk, permissions=["change"], user=editor)
    form = client_for(editor).get(page_urls(credential)["edit"]).context["form"]
    assert "team" not in form.fields


def test_an_edit_over_someone_elses_change_is_refused(owner_client, owner, credential):
    from credentials.services import credential_update

    url = page_urls(credential)["edit"]
    data = data_sent_back(owner_client.get(url).context["form"])
    credential_update(actor=owner, credential_id=credential.pk, changes={"description": "theirs"}, expected_version=1)
    data["description"] = "mine"
    response = owner_client.post(url, data)
    assert response.status_code == 200
    assert "changed by someone else" in response.content.decode()
    credential.refresh_from_db()
    assert credential.description == "theirs"


def test_changing_hosts_without_the_secret_is_refused_beside_the_field(owner_client, credential):
    url = page_urls(credential)["edit"]
    data = data_sent_back(owner_client.get(url).context["form"])
    data["field__host"] = "attacker.example.net"
    response = owner_client.post(url, data)
    assert response.status_code == 200
    assert "field__password" in response.context["form"].errors
    credential.refresh_from_db()
    assert credential.public_fields["host"] == "db.example.com"


# --- Sharing ------------------------------------------------------------------------------------------


def test_sharing_with_a_user_and_a_group_and_taking_it_back(owner_client, credential):
    friend = make_user("friend")
    Group.objects.create(name="ops")
    url = page_urls(credential)["shares"]
    assert owner_client.post(url, {"user": "friend", "permissions": ["use", "view"]}).status_code == 302
    assert owner_client.post(url, {"group": "ops", "permissions": ["use"]}).status_code == 302
    assert [(s.name, s.permissions) for s in share_list(credential)] == [("friend", ("use", "view")), ("ops", ("use",))]
    html = owner_client.get(url).content.decode()
    assert "Remove friend" in html and "Remove group ops" in html

    unshare = page_urls(credential)["unshare"]
    assert owner_client.post(unshare, {"kind": "user", "id": str(friend.pk)}).status_code == 302
    assert [s.name for s in share_list(credential)] == ["ops"]
    assert AuditEvent.objects.filter(action=AuditAction.UNSHARED).count() == 1


def test_the_owning_team_is_listed_with_the_shares(owner_client, owner, superuser):
    team = Group.objects.create(name="platform")
    owner.groups.add(team)
    team_set_manager(actor=superuser, team=team, user=make_user("lead"), is_manager=True)
    credential = make_credential(owner, "github_pat", name="team-token", team=team)
    shares = owner_client.get(page_urls(credential)["shares"]).content.decode()
    assert "Team platform, which owns it" in shares and "managers (lead): use, view, change, share" in shares
    detail = owner_client.get(page_urls(credential)["detail"]).content.decode()
    assert "Team platform (owner): its members use it; its managers lead also view, change and share it" in detail


def test_the_share_form_offers_names_from_the_api_without_inline_script(owner_client, credential):
    response = owner_client.get(page_urls(credential)["shares"])
    html = response.content.decode()
    assert 'list="id_user_candidates"' in html and '<datalist id="id_user_candidates"></datalist>' in html
    assert 'list="id_group_candidates"' in html
    assert f'data-share-candidates-api="{reverse("share-candidates")}"' in html
    assert "<script>" not in html and "unsafe-inline" not in response.headers["Content-Security-Policy"]


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"user": "nobody", "permissions": ["use"]}, "user", "No active user has this user name."),
        ({"user": "owner", "permissions": ["use"]}, "user", "The owner already holds every permission."),
        ({"user": "friend", "permissions": ["delete"]}, "permissions", "Select a valid choice."),
        ({"user": "friend"}, "permissions", "This field is required."),
        ({"permissions": ["use"]}, "__all__", "Name one user or one group."),
        ({"user": "friend", "group": "ops", "permissions": ["use"]}, "__all__", "Name one user or one group."),
        ({"group": "no-such-team", "permissions": ["use"]}, "group", "No group has this name."),
    ],
)
def test_a_bad_share_is_refused_with_its_reason(owner_client, credential, data, field, message):
    make_user("friend")
    response = owner_client.post(page_urls(credential)["shares"], data)
    assert response.status_code == 200
    assert any(message in error for error in response.context["form"].errors[field])
    assert share_list(credential) == []


def test_taking_back_what_cannot_be_taken_back_is_a_message_not_an_error(owner_client, owner, credential):
    unshare = page_urls(credential)["unshare"]
    response = owner_client.post(unshare, {"kind": "user", "id": str(owner.pk)}, follow=True)
    assert response.status_code == 200 and "The owner already holds every permission." in response.content.decode()
    response = owner_client.post(unshare, {"kind": "group", "id": "999999"}, follow=True)
    assert "That share no longer exists." in response.content.decode()
    assert not AuditEvent.objects.filter(action=AuditAction.UNSHARED).exists()


# --- Delete ---------------------------------------------------------------------------------------------


def test_deleting_asks_first_and_lists_what_uses_it(owner_client, owner, credential):
    credential_reveal(actor=owner, credential_id=credential.pk, service="nightly-backup")
    url = page_urls(credential)["delete"]
    confirm = owner_client.get(url).content.decode()
    assert "nightly-backup" in confirm and "Delete “orders-db”?" in confirm
    assert Credential.objects.filter(pk=credential.pk).exists()
    response = owner_client.post(url)
    assert response.status_code == 302 and response["Location"] == reverse("credentials:list")
    assert not Credential.objects.filter(pk=credential.pk).exists()
    assert "deleted" in owner_client.get(response["Location"]).content.decode()


# --- Security headers and forms ----------------------------------------------------------------------


def test_pages_send_the_security_headers(owner_client, credential):
    for url in [reverse("login"), reverse("credentials:list"), *list(page_urls(credential).values())[:4]]:
        response = owner_client.get(url)
        policy = response["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy, url
        assert "frame-ancestors 'none'" in policy and "object-src 'none'" in policy
        assert response["X-Frame-Options"] == "DENY"
        assert response["Referrer-Policy"] == "same-origin"
        assert response["X-Content-Type-Options"] == "nosniff"


def test_no_page_carries_an_inline_script_or_style(owner_client, owner, credential):
    urls = [
        reverse("credentials:list"),
        reverse("credentials:choose-type"),
        reverse("credentials:create", kwargs={"type_slug": "redis"}),
        *list(page_urls(credential).values())[:4],
    ]
    for url in urls:
        html = owner_client.get(url).content.decode()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), url
        assert not re.search(r"\son[a-z]+=", html), url
        assert not re.search(r"\sstyle=", html), url


def test_every_form_needs_its_csrf_token(owner, credential):
    client = client_for(owner)
    client.handler.enforce_csrf_checks = True
    urls = page_urls(credential)
    for url, data in [
        (reverse("credentials:create", kwargs={"type_slug": "github_pat"}), add_data("github_pat", {"token": "t"})),
        (urls["edit"], {}),
        (urls["delete"], {}),
        (urls["shares"], {"user": "x", "permissions": ["use"]}),
        (urls["unshare"], {"kind": "user", "id": "1"}),
        (reverse("logout"), {}),
    ]:
        assert client.post(url, data).status_code == 403, url
    assert Credential.objects.count() == 1


def test_pages_that_receive_secrets_keep_posted_values_out_of_error_reports(owner_client, credential):
    create = owner_client.post(reverse("credentials:create", kwargs={"type_slug": "github_pat"}), {})
    edit = owner_client.post(page_urls(credential)["edit"], {})
    login = owner_client.post(reverse("login"), {})
    for response in (create, edit, login):
        assert response.wsgi_request.sensitive_post_parameters == "__ALL__"


def test_cookies_are_secure_outside_debug():
    from importlib import reload

    import config.settings

    assert config.settings.DEBUG is False
    reload(config.settings)
    assert config.settings.SESSION_COOKIE_SECURE and config.settings.CSRF_COOKIE_SECURE
    assert config.settings.SESSION_COOKIE_HTTPONLY


def test_the_private_key_textarea_never_echoes(owner_client):
    private_key, _ = ssh_keypair("pw")
    data = add_data("ssh_key", {"private_key": private_key, "passphrase": "pw", "host_keys": ""}, name="k")
    response = owner_client.post(reverse("credentials:create", kwargs={"type_slug": "ssh_key"}), data)
    assert response.status_code == 200 and "field__host_keys" in response.context["form"].errors
    assert private_key.splitlines()[1] not in response.content.decode()


# --- Testing ------------------------------------------------------------------------------------------


def test_the_test_button_needs_use(credential, user_with_use, user_with_view, stranger):
    url = reverse("credentials:test", kwargs={"pk": credential.pk})
    assert client_for(stranger).post(url).status_code == 404
    assert client_for(user_with_view).post(url).status_code == 403  # *view* is not *use*
    assert b">Test</button>" not in client_for(user_with_view).get(page_urls(credential)["detail"]).content
    client = client_for(user_with_use)
    assert b">Test</button>" in client.get(page_urls(credential)["detail"]).content
    assert client.get(url).status_code == 405  # only a POST starts a test


def test_the_test_button_runs_a_test_and_the_page_shows_its_result(
    owner_client, owner, eager_tasks, django_capture_on_commit_callbacks
):
    closed_port = free_port()  # nothing listens there once the probe is closed
    fields = {**valid_fields("postgres", "pg-secret"), "host": "127.0.0.1", "port": closed_port}
    credential = credential_create(actor=owner, type_slug="postgres", name="down", fields=fields)
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(reverse("credentials:test", kwargs={"pk": credential.pk}))
    assert response.status_code == 302
    page = owner_client.get(response["Location"]).content.decode()
    assert ">Failed</span>" in page and "pg-secret" not in page
    credential.refresh_from_db()
    assert credential.test_message and escape(credential.test_message) in page


@pytest.mark.django_db(transaction=True)
def test_a_test_that_already_ended_is_announced_by_its_outcome_in_words(owner, eager_tasks):
    # As in the embedded default: no transaction around the request, tasks in-process, so the
    # result is in before the page answers and the message must not say "running".
    closed_port = free_port()
    fields = {**valid_fields("http_bearer", "bearer-canary"), "base_url": f"http://127.0.0.1:{closed_port}"}
    credential = credential_create(actor=owner, type_slug="http_bearer", name="down", fields=fields)
    client = client_for(owner)
    response = client.post(reverse("credentials:test", kwargs={"pk": credential.pk}), follow=True)
    [message] = re.findall(r'<li class="message ([a-z ]+)">([^<]*)</li>', response.content.decode())
    assert message[0] == "error"
    assert message[1].startswith(f"The test failed: Could not connect to 127.0.0.1:{closed_port}: nothing accepts")
    assert "Errno" not in message[1] and "running" not in message[1]


def test_a_credential_failing_again_and_again_is_flagged(owner_client, credential, settings):
    Credential.objects.filter(pk=credential.pk).update(
        test_status="failed", test_failures=settings.CREDENTIAL_TEST_FLAG_AFTER, retest_daily=True
    )
    flag = f"Failing {settings.CREDENTIAL_TEST_FLAG_AFTER} times in a row"
    assert flag in owner_client.get(reverse("credentials:list")).content.decode()
    detail = owner_client.get(page_urls(credential)["detail"]).content.decode()
    assert flag in detail and "Tested daily</dt><dd>Yes" in detail


def test_the_daily_test_switch_is_on_the_form(owner_client, credential):
    url = page_urls(credential)["edit"]
    data = data_sent_back(owner_client.get(url).context["form"])
    data["retest_daily"] = "on"
    assert owner_client.post(url, data).status_code == 302
    credential.refresh_from_db()
    assert credential.retest_daily is True
