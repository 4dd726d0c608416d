"""The admin's object-permissions pages: shares and team managers, each changed through the audited services."""

import pytest
from django.contrib.auth.models import Group

from audit.models import AuditAction, AuditEvent
from credentials.models import CredentialUserPermission, TeamManagerPermission
from credentials.permissions import user_manages_team
from credentials.sharing import share_list
from tests.factories import make_credential, make_user


@pytest.fixture
def credential(owner):
    return make_credential(owner, "github_pat", name="shared-in-admin")


@pytest.fixture
def admin_client(client, superuser):
    client.force_login(superuser)
    return client


def base(credential) -> str:
    return f"/admin/credentials/credential/{credential.pk}/permissions/"


def test_the_page_lists_who_the_credential_is_shared_with(admin_client, credential, owner):
    friend = make_user("friend")
    admin_client.post(f"{base(credential)}user-manage/{friend.pk}/", {"permissions": ["use_credential"]})
    page = admin_client.get(base(credential))
    assert page.status_code == 200
    assert "friend" in page.content.decode()
    change_page = admin_client.get(f"/admin/credentials/credential/{credential.pk}/change/")
    assert "permissions/" in change_page.content.decode()  # the "Object permissions" link


def test_granting_and_revoking_go_through_the_audited_services(admin_client, credential):
    friend = make_user("friend")
    url = f"{base(credential)}user-manage/{friend.pk}/"
    form = admin_client.get(url)
    offered = form.context["form"].fields["permissions"].choices
    assert [codename for codename, _ in offered] == ["use_credential", "view_credential", "change_credential"]

    assert admin_client.post(url, {"permissions": ["use_credential", "view_credential"]}).status_code == 302
    assert share_list(credential)[0].permissions == ("use", "view")
    assert admin_client.post(url, {"permissions": ["use_credential"]}).status_code == 302
    assert share_list(credential)[0].permissions == ("use",)
    actions = list(
        AuditEvent.objects.filter(credential_ref=str(credential.pk))
        .exclude(action=AuditAction.CREATED)
        .values_list("action", "details__granted", "details__revoked")
        .order_by("id")
    )
    assert actions == [(AuditAction.SHARED, ["use", "view"], None), (AuditAction.UNSHARED, None, ["view"])]


def test_delete_cannot_be_granted_from_the_admin(admin_client, credential):
    friend = make_user("friend")
    response = admin_client.post(f"{base(credential)}user-manage/{friend.pk}/", {"permissions": ["delete_credential"]})
    assert response.status_code == 200  # the form is shown again with its error
    assert not CredentialUserPermission.objects.exists()


def test_group_shares_from_the_admin(admin_client, credential):
    group = Group.objects.create(name="readers")
    admin_client.post(f"{base(credential)}group-manage/{group.pk}/", {"permissions": ["use_credential"]})
    assert [(s.kind, s.name, s.permissions) for s in share_list(credential)] == [("group", "readers", ("use",))]


def test_staff_without_the_change_permission_cannot_share(client, credential):
    staff = make_user("staffer", is_staff=True)
    client.force_login(staff)
    response = client.get(base(credential))
    assert response.status_code in (302, 403, 404)
    assert not CredentialUserPermission.objects.exists()


def test_team_managers_are_appointed_on_the_group_page(admin_client):
    team = Group.objects.create(name="ops")
    manager = make_user("manager")
    url = f"/admin/auth/group/{team.pk}/permissions/user-manage/{manager.pk}/"
    offered = admin_client.get(url).context["form"].fields["permissions"].choices
    assert [codename for codename, _ in offered] == ["manage_team"]
    assert admin_client.post(url, {"permissions": ["manage_team"]}).status_code == 302
    assert user_manages_team(manager, team) and team.user_set.filter(pk=manager.pk).exists()
    # A browser sends the CSRF token even when no box is ticked; an empty POST would not bind the form.
    assert admin_client.post(url, {"csrfmiddlewaretoken": "unchecked-in-tests"}).status_code == 302
    assert not TeamManagerPermission.objects.exists()
    recorded = AuditEvent.objects.filter(action__startswith="manager_").order_by("id")
    assert [(e.action, e.details["user"], e.ip) for e in recorded] == [
        ("manager_appointed", "manager", "127.0.0.1"),
        ("manager_removed", "manager", "127.0.0.1"),
    ]
