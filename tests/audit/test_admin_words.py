"""The admin speaks Latchkey: its header, the third-party apps named for an operator, audit columns for people."""

import pytest

from audit.services import audit_record


@pytest.mark.django_db
def test_the_admin_index_names_latchkey_and_what_each_third_party_app_does(admin_client):
    html = admin_client.get("/admin/").content.decode()
    assert "Latchkey administration" in html and "<title>Credentials, plugins, people and the audit trail" in html
    assert "Sign-in lockouts" in html and "API tokens" in html
    assert ">Axes<" not in html and ">Knox<" not in html


@pytest.mark.django_db
def test_the_audit_list_names_its_columns_for_people(admin_client, admin_user):
    audit_record(action="exported", actor=admin_user, details={"count": 0})
    html = admin_client.get("/admin/audit/auditevent/").content.decode()
    assert ">Actor<" in html and ">Credential<" in html
    assert "Actor repr" not in html and "Credential name" not in html
