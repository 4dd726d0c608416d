"""The admin's credential list: six columns that fit 1,280 px, and a bulk-test message that points at one of them."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import Group

from credentials.admin import credential as credential_admin
from tests.factories import make_credential

pytestmark = pytest.mark.django_db

LIST = "/admin/credentials/credential/"


@pytest.fixture
def admin_client(client, superuser):
    client.force_login(superuser)
    return client


def test_the_list_shows_six_columns_in_order(admin_client, owner):
    team = Group.objects.create(name="platform")
    owner.groups.add(team)
    make_credential(owner, "github_pat", name="deploy", team=team)
    html = admin_client.get(LIST).content.decode()
    columns = re.findall(r'<th scope="col" class="[^"]*column-(\w+)', html)
    assert columns == ["name", "type_name", "environment", "owner_or_team", "test_status", "expires"]
    assert "owner / platform" in html
    assert "Test status" in html


def test_the_bulk_test_message_names_a_visible_column(admin_client, owner, monkeypatch):
    credential = make_credential(owner, "github_pat", name="deploy")
    queued = []
    monkeypatch.setattr(credential_admin, "credential_test_request", lambda **kwargs: queued.append(kwargs))
    data = {"action": "test_selected", "_selected_action": [str(credential.pk)]}
    response = admin_client.post(LIST, data, follow=True)
    assert [item["credential_id"] for item in queued] == [credential.pk]
    shown = [str(message) for message in response.context["messages"]]
    assert shown == ["1 test(s) queued; their results appear in the Test status column."]
    assert "column-test_status" in response.content.decode()
