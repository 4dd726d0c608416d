"""The admin's sharing page for credentials and guardian's page for team managers, each changed through the services."""

import pytest
from django.contrib.auth.models import Group

from audit.models import AuditAction, AuditEvent
from credentials.models import CredentialUserPermission, TeamManagerPermission
from credentials.permissions import user_manages_team
from credentials.sharing import credential_share, share_list
from credentials.teams import team_set_manager
from tests.factories import make_credential, make_user


@pytest.fixture
def credential(owner):
    return make_credential(owner, "github_pat", name="shared-in-admin")


@pytest.fixture
def admin_client(client, superuser):
    client.force_login(superuser)
    return client


def base(credential) -> str:
    return f"/admin/credentials/credential/{credential.pk}/shares/"


def shared(credential) -> list[tuple[str, str, tuple[str, ...]]]:
    return [(s.kind, s.name, s.permissions) for s in share_list(credential)]


def test_the_page_lists_the_team_and_who_the_credential_is_shared_with(admin_client, owner):
    team = Group.objects.create(name="platform")
    owner.groups.add(team)
    manager = make_user("lead")
    team_set_manager(actor=make_user("boss", is_superuser=True), team=team, user=manager, is_manager=True)
    credential = make_credential(owner, "github_pat", name="team-owned", team=team)
    credential_share(actor=owner, credential_id=credential.pk, user=make_user("friend"), permissions=["use"])
    page = admin_client.get(base(credential))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Team platform (its members)" in html and "lead" in html and "User friend" in html
    assert html.index("Team platform") < html.index("User friend")  # the team's access on top
    change_page = admin_client.get(f"/admin/credentials/credential/{credential.pk}/change/")
    assert base(credential) in change_page.content.decode()  # the "Sharing" link, in the object tools


def test_none_of_guardians_vocabulary_is_left(admin_client, credential):
    pages = [
        admin_client.get(base(credential)),
        admin_client.get(f"/admin/credentials/credential/{credential.pk}/change/"),
    ]
    for page in pages:
        html = page.content.decode()
        for word in ("Can add", "Can delete", "USERNAME_FIELD", "Object permissions"):
            assert word not in html
    assert admin_client.get(f"/admin/credentials/credential/{credential.pk}/permissions/").status_code != 200


def test_adding_and_removing_go_through_the_audited_services(admin_client, credential):
    friend = make_user("friend")
    url = base(credential)
    offered = admin_client.get(url).context["form"].fields["permissions"].choices
    assert [action for action, _ in offered] == ["use", "view", "change"]

    assert admin_client.post(url, {"user": "friend", "permissions": ["use", "view"]}).status_code == 302
    assert shared(credential) == [("user", "friend", ("use", "view"))]
    removal = {"unshare": "Remove friend", "kind": "user", "id": str(friend.pk)}
    assert admin_client.post(url, removal).status_code == 302
    assert shared(credential) == []
    actions = list(
        AuditEvent.objects.filter(credential_ref=str(credential.pk))
        .exclude(action=AuditAction.CREATED)
        .values_list("action", "details__granted", "details__revoked")
        .order_by("id")
    )
    assert actions == [(AuditAction.SHARED, ["use", "view"], None), (AuditAction.UNSHARED, None, ["use", "view"])]


def test_the_services_errors_are_shown_on_the_form(admin_client, credential, owner):
    response = admin_client.post(base(credential), {"user": "owner", "permissions": ["use"]})
    assert response.status_code == 200
    assert "The owner already holds every permission." in response.content.decode()
    response = admin_client.post(base(credential), {"user": "nobody", "permissions": ["delete"]})
    assert response.status_code == 200 and response.context["form"].errors.keys() == {"user", "permissions"}
    assert not CredentialUserPermission.objects.exists()


def test_group_shares_from_the_admin(admin_client, credential):
    Group.objects.create(name="readers")
    admin_client.post(base(credential), {"group": "Readers", "permissions": ["use"]})  # case aside
    assert shared(credential) == [("group", "readers", ("use",))]


def test_staff_without_the_change_permission_cannot_share(client, credential):
    staff = make_user("staffer", is_staff=True)
    client.force_login(staff)
    response = client.get(base(credential))
    assert response.status_code in (302, 403, 404)
    response = client.post(base(credential), {"user": "staffer", "permissions": ["use"]})
    assert response.status_code in (302, 403, 404)
    assert not CredentialUserPermission.objects.exists()


def test_staff_who_may_view_but_not_share_get_the_services_refusal(client, credential, owner):
    staff = make_user("viewer", is_staff=True)
    credential_share(actor=owner, credential_id=credential.pk, user=staff, permissions=["view"])
    client.force_login(staff)
    page = client.get(base(credential))
    assert page.status_code == 200 and page.context["form"] is None  # the list, no form
    make_user("friend")
    response = client.post(base(credential), {"user": "friend", "permissions": ["use"]}, follow=True)
    assert response.status_code == 200
    assert "You may not share this credential." in [str(m) for m in response.context["messages"]]
    assert shared(credential) == [("user", "viewer", ("view",))]
    removal = {"unshare": "Remove", "kind": "user", "id": str(staff.pk)}
    response = client.post(base(credential), removal, follow=True)
    assert "You may not share this credential." in [str(m) for m in response.context["messages"]]
    assert shared(credential) == [("user", "viewer", ("view",))]


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
