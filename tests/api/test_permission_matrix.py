"""The API's permission matrix: the status every role gets for every endpoint and verb, written out in full."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.urls import get_resolver
from rest_framework.test import APIClient

from credentials.access.services import access_request_create, credential_set_requestable
from credentials.door import credential_reveal
from credentials.models import (
    AccessRequest,
    Credential,
    CredentialGroupPermission,
    CredentialUserPermission,
    CredentialVersion,
)
from credentials.permissions import actions_for
from credentials.services import credential_update
from credentials.sharing import credential_share
from credentials.teams import team_set_manager
from notifications.models import Delivery, Subscription, WebhookEndpoint
from notifications.webhooks.endpoints import endpoint_create
from plugins.models import Plugin
from tests.factories import PASSWORD, make_credential, make_user

ROLES = (
    "anonymous",  # no authentication
    "stranger",  # authenticated, no relation to the credential
    "use",  # a direct share of ["use"]
    "view",  # a direct share of ["view"]
    "change",  # a direct share of ["change"] (implies view)
    "member",  # a member of the credential's team: use only
    "manager",  # manage_team on the credential's team: use, view, change, share
    "owner",
    "staff",  # is_staff with the four credentials model permissions
    "superuser",
)

# One row per request, one column per role (in ROLES order). {id}, {slug}, {owner} and
# {bystander} are filled in from the test's world; REQUEST_BODIES gives the bodies.
# fmt: off
MATRIX: dict[str, tuple[int, ...]] = {
    #                                                   anon strgr use view chnge membr mngr owner staff super
    "GET /api/credential-types/":                       (401, 200, 200, 200, 200, 200, 200, 200, 200, 200),
    "OPTIONS /api/credential-types/":                   (401, 200, 200, 200, 200, 200, 200, 200, 200, 200),
    "POST /api/credential-types/":                      (401, 405, 405, 405, 405, 405, 405, 405, 405, 405),
    "GET /api/credential-types/{slug}/":                (401, 200, 200, 200, 200, 200, 200, 200, 200, 200),
    "OPTIONS /api/credential-types/{slug}/":            (401, 200, 200, 200, 200, 200, 200, 200, 200, 200),

    "GET /api/credentials/":                            (401, 200, 200, 200, 200, 200, 200, 200, 200, 200),
    "POST /api/credentials/":                           (401, 201, 201, 201, 201, 201, 201, 201, 201, 201),
    "OPTIONS /api/credentials/":                        (401, 200, 200, 200, 200, 200, 200, 200, 200, 200),
    "DELETE /api/credentials/":                         (401, 405, 405, 405, 405, 405, 405, 405, 405, 405),

    "GET /api/credentials/attention/":                  (401, 200, 200, 200, 200, 200, 200, 200, 200, 200),
    "OPTIONS /api/credentials/attention/":              (401, 200, 200, 200, 200, 200, 200, 200, 200, 200),
    "POST /api/credentials/attention/":                 (401, 405, 405, 405, 405, 405, 405, 405, 405, 405),

    "GET /api/credentials/{id}/":                       (401, 404, 200, 200, 200, 200, 200, 200, 200, 200),
    "HEAD /api/credentials/{id}/":                      (401, 404, 200, 200, 200, 200, 200, 200, 200, 200),
    "PUT /api/credentials/{id}/":                       (401, 404, 403, 403, 200, 403, 200, 200, 200, 200),
    "PATCH /api/credentials/{id}/":                     (401, 404, 403, 403, 200, 403, 200, 200, 200, 200),
    "DELETE /api/credentials/{id}/":                    (401, 404, 403, 403, 403, 403, 403, 204, 204, 204),
    "OPTIONS /api/credentials/{id}/":                   (401, 404, 200, 200, 200, 200, 200, 200, 200, 200),
    "POST /api/credentials/{id}/":                      (401, 404, 405, 405, 405, 405, 405, 405, 405, 405),

    "GET /api/credentials/{id}/audit-logs/":            (401, 404, 403, 200, 200, 403, 200, 200, 200, 200),
    "OPTIONS /api/credentials/{id}/audit-logs/":        (401, 404, 200, 200, 200, 200, 200, 200, 200, 200),
    "POST /api/credentials/{id}/audit-logs/":           (401, 404, 405, 405, 405, 405, 405, 405, 405, 405),

    "GET /api/credentials/{id}/usage/":                 (401, 404, 403, 200, 200, 403, 200, 200, 200, 200),
    "OPTIONS /api/credentials/{id}/usage/":             (401, 404, 200, 200, 200, 200, 200, 200, 200, 200),
    "DELETE /api/credentials/{id}/usage/":              (401, 404, 405, 405, 405, 405, 405, 405, 405, 405),

    "POST /api/credentials/{id}/test/":                 (401, 404, 202, 403, 403, 202, 202, 202, 202, 202),
    "OPTIONS /api/credentials/{id}/test/":              (401, 404, 200, 200, 200, 200, 200, 200, 200, 200),
    "GET /api/credentials/{id}/test/":                  (401, 404, 405, 405, 405, 405, 405, 405, 405, 405),

    "GET /api/credentials/{id}/shares/":                (401, 404, 403, 200, 200, 403, 200, 200, 200, 200),
    "POST /api/credentials/{id}/shares/":               (401, 404, 403, 403, 403, 403, 200, 200, 200, 200),
    "DELETE /api/credentials/{id}/shares/?user={bystander}&permissions=use":
                                                        (401, 404, 403, 403, 403, 403, 200, 200, 200, 200),
    "OPTIONS /api/credentials/{id}/shares/":            (401, 404, 200, 200, 200, 200, 200, 200, 200, 200),
    "PATCH /api/credentials/{id}/shares/":              (401, 404, 405, 405, 405, 405, 405, 405, 405, 405),

    # The secret's history: listed with view, restored with change, destroyed with delete (the owner, admins).
    "GET /api/credentials/{id}/versions/":              (401, 404, 403, 200, 200, 403, 200, 200, 200, 200),
    "OPTIONS /api/credentials/{id}/versions/":          (401, 404, 200, 200, 200, 200, 200, 200, 200, 200),
    "POST /api/credentials/{id}/versions/":             (401, 404, 405, 405, 405, 405, 405, 405, 405, 405),
    "POST /api/credentials/{id}/versions/{number}/rollback/":  (401, 404, 403, 403, 200, 403, 200, 200, 200, 200),
    "GET /api/credentials/{id}/versions/{number}/rollback/":   (401, 404, 405, 405, 405, 405, 405, 405, 405, 405),
    "DELETE /api/credentials/{id}/versions/{number}/":         (401, 404, 403, 403, 403, 403, 403, 204, 204, 204),
    "GET /api/credentials/{id}/versions/{number}/":            (401, 404, 405, 405, 405, 405, 405, 405, 405, 405),

    # Time-bound access. The stranger may discover the credential (requestable by everyone) and has asked
    # for use; approvers are the manager, the owner and administrators; nobody decides their own request.
    "GET /api/credentials/{id}/requestable/":           (401, 404, 403, 200, 200, 403, 200, 200, 200, 200),
    "PUT /api/credentials/{id}/requestable/":           (401, 404, 403, 403, 403, 403, 200, 200, 200, 200),
    "OPTIONS /api/credentials/{id}/requestable/":       (401, 404, 200, 200, 200, 200, 200, 200, 200, 200),
    "POST /api/credentials/{id}/requestable/":          (401, 404, 405, 405, 405, 405, 405, 405, 405, 405),
    "GET /api/requestable-credentials/":                (401, 200, 200, 200, 200, 200, 200, 200, 200, 200),
    "POST /api/requestable-credentials/":               (401, 405, 405, 405, 405, 405, 405, 405, 405, 405),
    # Asking for view: who holds it already (view, change, manager, owner, admins) is told so.
    "POST /api/access-requests/":                       (401, 201, 201, 400, 400, 201, 400, 400, 400, 400),
    "GET /api/access-requests/":                        (401, 200, 200, 200, 200, 200, 200, 200, 200, 200),
    "DELETE /api/access-requests/":                     (401, 405, 405, 405, 405, 405, 405, 405, 405, 405),
    "GET /api/access-requests/review/":                 (401, 200, 200, 200, 200, 200, 200, 200, 200, 200),
    "GET /api/access-requests/{request_id}/":              (401, 200, 404, 404, 404, 404, 200, 200, 200, 200),
    "DELETE /api/access-requests/{request_id}/":           (401, 405, 405, 405, 405, 405, 405, 405, 405, 405),
    "POST /api/access-requests/{request_id}/approve/":     (401, 403, 403, 403, 403, 403, 200, 200, 200, 200),
    "POST /api/access-requests/{request_id}/deny/":        (401, 403, 403, 403, 403, 403, 200, 200, 200, 200),
    "POST /api/access-requests/{request_id}/cancel/":      (401, 200, 404, 404, 404, 404, 403, 403, 403, 403),
    "GET /api/access-requests/{request_id}/cancel/":       (401, 405, 405, 405, 405, 405, 405, 405, 405, 405),

    "GET /api/plugins/":                                (401, 200, 200, 200, 200, 200, 200, 200, 200, 200),
    "POST /api/plugins/":                               (401, 400, 202, 400, 400, 202, 202, 202, 202, 202),
    "OPTIONS /api/plugins/":                            (401, 200, 200, 200, 200, 200, 200, 200, 200, 200),
    # A plugin is its owner's (and a superuser's): everyone else is told it does not exist.
    "GET /api/plugins/{id}/":                           (401, 404, 404, 404, 404, 404, 404, 200, 404, 200),
    "PATCH /api/plugins/{id}/":                         (401, 404, 404, 404, 404, 404, 404, 200, 404, 200),
    "DELETE /api/plugins/{id}/":                        (401, 404, 404, 404, 404, 404, 404, 204, 404, 204),
    "OPTIONS /api/plugins/{id}/":                       (401, 404, 404, 404, 404, 404, 404, 200, 404, 200),
    "PUT /api/plugins/{id}/":                           (401, 404, 404, 404, 404, 404, 404, 405, 404, 405),
    "POST /api/plugins/{id}/sync/":                     (401, 404, 404, 404, 404, 404, 404, 202, 404, 202),
    "GET /api/plugins/{id}/sync/":                      (401, 404, 404, 404, 404, 404, 404, 405, 404, 405),

    # Whoever may share some credential (an owner, a team manager, an administrator) searches for grantees.
    "GET /api/share-candidates/?q=matrix":              (401, 403, 403, 403, 403, 403, 200, 200, 200, 200),
    "OPTIONS /api/share-candidates/":                   (401, 200, 200, 200, 200, 200, 200, 200, 200, 200),
    "POST /api/share-candidates/":                      (401, 405, 405, 405, 405, 405, 405, 405, 405, 405),

    # Any signed-in user; the body aims at a link-local address, refused before anything is sent.
    "POST /api/ssh/host-keys/":                         (401, 400, 400, 400, 400, 400, 400, 400, 400, 400),
    "GET /api/ssh/host-keys/":                          (401, 405, 405, 405, 405, 405, 405, 405, 405, 405),
    "OPTIONS /api/ssh/host-keys/":                      (401, 200, 200, 200, 200, 200, 200, 200, 200, 200),
    "GET /api/ssh/host-keys/presets/":                  (401, 200, 200, 200, 200, 200, 200, 200, 200, 200),
    "POST /api/ssh/host-keys/presets/":                 (401, 405, 405, 405, 405, 405, 405, 405, 405, 405),

    # Anyone signed in chooses how events reach them (their own choices only).
    "GET /api/notifications/subscriptions/":            (401, 200, 200, 200, 200, 200, 200, 200, 200, 200),
    "PUT /api/notifications/subscriptions/{event}/":
                                                        (401, 200, 200, 200, 200, 200, 200, 200, 200, 200),
    "DELETE /api/notifications/subscriptions/{event}/":
                                                        (401, 200, 200, 200, 200, 200, 200, 200, 200, 200),
    "PUT /api/notifications/subscriptions/no.such.event/":
                                                        (401, 404, 404, 404, 404, 404, 404, 404, 404, 404),
    "POST /api/notifications/subscriptions/":           (401, 405, 405, 405, 405, 405, 405, 405, 405, 405),
    # Anyone signed in adds endpoints of their own; the owner's endpoint is theirs (and a superuser's) alone,
    # the team's is its managers' (the credential's owner is a member, not a manager).
    "GET /api/webhooks/":                               (401, 200, 200, 200, 200, 200, 200, 200, 200, 200),
    "POST /api/webhooks/":                              (401, 201, 201, 201, 201, 201, 201, 201, 201, 201),
    "GET /api/webhooks/{endpoint_id}/":                    (401, 404, 404, 404, 404, 404, 404, 200, 404, 200),
    "PATCH /api/webhooks/{endpoint_id}/":                  (401, 404, 404, 404, 404, 404, 404, 200, 404, 200),
    "PUT /api/webhooks/{endpoint_id}/":                    (401, 405, 405, 405, 405, 405, 405, 405, 405, 405),
    "DELETE /api/webhooks/{endpoint_id}/":                 (401, 404, 404, 404, 404, 404, 404, 204, 404, 204),
    "POST /api/webhooks/{endpoint_id}/rotate-secret/":     (401, 404, 404, 404, 404, 404, 404, 200, 404, 200),
    "POST /api/webhooks/{endpoint_id}/test/":              (401, 404, 404, 404, 404, 404, 404, 202, 404, 202),
    "GET /api/webhooks/{endpoint_id}/deliveries/":         (401, 404, 404, 404, 404, 404, 404, 200, 404, 200),
    "GET /api/webhooks/{team_endpoint}/":               (401, 404, 404, 404, 404, 404, 200, 404, 404, 200),
    "PATCH /api/webhooks/{team_endpoint}/":             (401, 404, 404, 404, 404, 404, 200, 404, 404, 200),
    "GET /api/webhooks/{team_endpoint}/deliveries/":    (401, 404, 404, 404, 404, 404, 200, 404, 404, 200),

    "POST /api/auth/token/":                            (200, 200, 200, 200, 200, 200, 200, 200, 200, 200),
    "OPTIONS /api/auth/token/":                         (200, 200, 200, 200, 200, 200, 200, 200, 200, 200),
    "GET /api/schema/":                                 (200, 200, 200, 200, 200, 200, 200, 200, 200, 200),
    "GET /api/docs/":                                   (200, 200, 200, 200, 200, 200, 200, 200, 200, 200),
}

# What each role sees of the credential: whether the list shows it, and its "permissions" field.
VISIBILITY: dict[str, tuple[bool, list[str]]] = {
    "stranger":  (False, []),
    "use":       (True,  ["use"]),
    "view":      (True,  ["view"]),
    "change":    (True,  ["view", "change"]),
    "member":    (True,  ["use"]),
    "manager":   (True,  ["use", "view", "change", "share"]),
    "owner":     (True,  ["use", "view", "change", "delete", "share"]),
    "staff":     (True,  ["use", "view", "change", "delete", "share"]),
    "superuser": (True,  ["use", "view", "change", "delete", "share"]),
}
# fmt: on

assert all(len(statuses) == len(ROLES) for statuses in MATRIX.values()), "a MATRIX row misses a role"
assert set(VISIBILITY) == set(ROLES) - {"anonymous"}

# Shown only to callers who may view the credential: null for use-only callers.
VIEW_ONLY_KEYS = ("fields", "secrets_set", "metadata", "test_message")


@dataclass
class World:
    """One credential with a team and shares, and a user for each role; built afresh by every test."""

    users: dict[str, Any]
    credential: Credential
    plugin: Plugin  # the owner's, public (no credential), so that deleting the credential stays allowed
    team: Group
    bystander: Any
    secrets: tuple[str, ...]
    request: AccessRequest  # the stranger's pending request for use, which the credential's approvers decide
    endpoint: WebhookEndpoint  # the owner's own webhook endpoint
    team_endpoint: WebhookEndpoint  # the team's, made by its manager

    def fill(self, template: str) -> str:
        # Routes under /api/plugins/ name the world's plugin; every other {id} is the credential.
        target = self.plugin if template.startswith("/api/plugins/") else self.credential
        return template.format(
            id=target.pk,
            slug=self.credential.type.slug,
            owner=self.users["owner"].username,
            bystander=self.bystander.username,
            number=1,  # the version before the current one
            request_id=self.request.pk,
            endpoint_id=self.endpoint.pk,
            event="credential.expiring",
            team_endpoint=self.team_endpoint.pk,
        )

    def client(self, role: str) -> APIClient:
        client = APIClient()
        if self.users[role] is not None:
            client.force_authenticate(self.users[role])
        return client


def _staff_with_model_permissions(username: str) -> Any:
    user = make_user(username, is_staff=True)
    codenames = ("view_credential", "change_credential", "delete_credential", "use_credential")
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="credentials", codename__in=codenames))
    assert user.user_permissions.count() == len(codenames)
    return get_user_model().objects.get(pk=user.pk)  # no permission cache from before the grant


def build_world() -> World:
    canary = f"canary-{uuid.uuid4().hex}"
    superuser = make_user("matrix-root", is_staff=True, is_superuser=True)
    owner = make_user("matrix-owner")
    team = Group.objects.create(name="matrix-team")
    team.user_set.add(owner)
    credential = make_credential(
        owner, "github_pat", secret=canary, name="matrix-credential", team=team, tags=["matrix"]
    )
    users: dict[str, Any] = {"anonymous": None, "owner": owner, "superuser": superuser}
    users["stranger"] = make_user("matrix-stranger")
    for permission in ("use", "view", "change"):
        users[permission] = make_user(f"matrix-{permission}")
        credential_share(actor=owner, credential_id=credential.pk, permissions=[permission], user=users[permission])
    users["member"] = make_user("matrix-member")
    team.user_set.add(users["member"])
    users["manager"] = make_user("matrix-manager")
    team_set_manager(actor=superuser, team=team, user=users["manager"], is_manager=True)
    users["staff"] = _staff_with_model_permissions("matrix-staff")
    bystander = make_user("matrix-bystander")
    credential_share(actor=owner, credential_id=credential.pk, permissions=["use"], user=bystander)
    # Some use, so that usage and the audit log have more than creation and shares to show.
    credential_reveal(actor=owner, credential_id=credential.pk, service="matrix-test")
    # A second secret: version 2 is current, version 1 can be restored or destroyed.
    credential_update(actor=owner, credential_id=credential.pk, changes={"fields": {"token": f"second-{canary}"}})
    # Requestable by everyone signed in: the stranger asked for use (and still sees nothing else of it).
    credential_set_requestable(actor=owner, credential_id=credential.pk, everyone=True)
    request = access_request_create(
        actor=users["stranger"], credential_id=credential.pk, permission="use", hours=4, reason="matrix"
    )
    credential.refresh_from_db()
    plugin = Plugin.objects.create(
        name="matrix-plugin", repo_url="https://github.com/org/tools.git", owner=owner, status="installed"
    )
    endpoint = endpoint_create(actor=owner, name="matrix-hook", url="http://127.0.0.1:9/hook").endpoint
    team_endpoint = endpoint_create(
        actor=users["manager"], name="matrix-team-hook", url="http://127.0.0.1:9/team", team=team
    ).endpoint
    assert set(users) == set(ROLES)
    return World(
        users=users,
        credential=credential,
        plugin=plugin,
        team=team,
        bystander=bystander,
        secrets=(canary, f"new-{canary}", f"second-{canary}"),
        request=request,
        endpoint=endpoint,
        team_endpoint=team_endpoint,
    )


@pytest.fixture
def world(db) -> World:
    return build_world()


# Bodies for the requests that send one, built from the world and the caller's role.
REQUEST_BODIES: dict[str, Callable[[World, str], dict[str, Any]]] = {
    "POST /api/credentials/": lambda w, role: {
        "type": "github_pat",
        "name": f"made-by-{role}",
        "fields": {"token": w.secrets[1]},
        "tags": ["matrix"],
    },
    "PUT /api/credentials/{id}/": lambda w, role: {
        "version": w.credential.version,
        "name": w.credential.name,
        "environment": w.credential.environment,
        "fields": {},  # the stored token is kept
        "description": f"replaced by {role}",
    },
    "PATCH /api/credentials/{id}/": lambda w, role: {
        "version": w.credential.version,
        "description": f"patched by {role}",
    },
    "POST /api/credentials/{id}/shares/": lambda w, role: {"user": w.bystander.username, "permissions": ["view"]},
    "POST /api/credentials/{id}/versions/{number}/rollback/": lambda w, role: {"version": w.credential.version},
    "PUT /api/credentials/{id}/requestable/": lambda w, role: {"everyone": False, "max_access_hours": 24},
    "POST /api/access-requests/": lambda w, role: {
        "credential": str(w.credential.pk),
        "permission": "view",
        "hours": 2,
        "reason": f"asked by {role}",
    },
    "POST /api/access-requests/{request_id}/deny/": lambda w, role: {"reason": f"denied by {role}"},
    "POST /api/credentials/{id}/audit-logs/": lambda w, role: {},
    "POST /api/credentials/{id}/": lambda w, role: {"description": "posted"},
    "PATCH /api/credentials/{id}/shares/": lambda w, role: {"user": w.bystander.username, "permissions": ["view"]},
    "POST /api/credential-types/": lambda w, role: {"slug": "new-type"},
    "POST /api/plugins/": lambda w, role: {
        "name": f"made-by-{role}",
        "repo_url": "https://github.com/org/tools.git",
        "credential": str(w.credential.pk),
    },
    "PATCH /api/plugins/{id}/": lambda w, role: {"ref": f"ref-of-{role}"},
    "POST /api/auth/token/": lambda w, role: {"username": w.users["owner"].username, "password": PASSWORD},
    "POST /api/ssh/host-keys/": lambda w, role: {"host": "169.254.169.254", "port": 22},
    "PUT /api/notifications/subscriptions/{event}/": lambda w, role: {
        "scope": "visible",
        "email": "digest",
        "webhook": True,
    },
    "PUT /api/notifications/subscriptions/no.such.event/": lambda w, role: {
        "scope": "visible",
        "email": "digest",
        "webhook": True,
    },
    "POST /api/webhooks/": lambda w, role: {"name": f"hook-of-{role}", "url": "http://127.0.0.1:9/mine"},
    "PATCH /api/webhooks/{endpoint_id}/": lambda w, role: {"name": f"renamed by {role}"},
    "PATCH /api/webhooks/{team_endpoint}/": lambda w, role: {"name": f"renamed by {role}"},
}


def _shares_of(world: World, user: Any) -> set[str]:
    rows = CredentialUserPermission.objects.filter(content_object_id=world.credential.pk, user=user)
    return set(rows.values_list("permission__codename", flat=True))


def _stored(world: World) -> Credential | None:
    return Credential.objects.filter(pk=world.credential.pk).first()


# What an allowed write must have done, checked after each 2xx answer to it.
EFFECTS: dict[str, Callable[[World, str], bool]] = {
    "POST /api/credentials/": lambda w, role: Credential.objects.filter(
        name=f"made-by-{role}", owner=w.users[role]
    ).exists(),
    "PUT /api/credentials/{id}/": lambda w, role: (
        _stored(w).description == f"replaced by {role}" and _stored(w).version == w.credential.version + 1
    ),
    "PATCH /api/credentials/{id}/": lambda w, role: (
        _stored(w).description == f"patched by {role}" and _stored(w).version == w.credential.version + 1
    ),
    "DELETE /api/credentials/{id}/": lambda w, role: _stored(w) is None,
    "PUT /api/credentials/{id}/requestable/": lambda w, role: (
        _stored(w).requestable_by_everyone is False and _stored(w).max_access_hours == 24
    ),
    "POST /api/access-requests/": lambda w, role: AccessRequest.objects.filter(
        requester=w.users[role], permission="view", status="pending"
    ).exists(),
    "POST /api/access-requests/{request_id}/approve/": lambda w, role: (
        AccessRequest.objects.get(pk=w.request.pk).status == "approved"
        and "use" in actions_for(w.users["stranger"], _stored(w))
    ),
    "POST /api/access-requests/{request_id}/deny/": lambda w, role: (
        AccessRequest.objects.get(pk=w.request.pk).decision_reason == f"denied by {role}"
    ),
    "POST /api/access-requests/{request_id}/cancel/": lambda w, role: (
        AccessRequest.objects.get(pk=w.request.pk).status == "cancelled"
    ),
    "POST /api/credentials/{id}/versions/{number}/rollback/": lambda w, role: (
        _stored(w).secret_version == 3 and _stored(w).version == w.credential.version + 1
    ),
    "DELETE /api/credentials/{id}/versions/{number}/": lambda w, role: (
        CredentialVersion.objects.get(credential=w.credential, number=1).destroyed_at is not None
    ),
    # Queued when the request's transaction commits, which this test's transaction never does.
    "POST /api/credentials/{id}/test/": lambda w, role: _stored(w).test_status == "running",
    "POST /api/credentials/{id}/shares/": lambda w, role: (
        _shares_of(w, w.bystander) == {"use_credential", "view_credential"}
    ),
    "DELETE /api/credentials/{id}/shares/?user={bystander}&permissions=use": lambda w, role: (
        _shares_of(w, w.bystander) == set()
    ),
    "POST /api/plugins/": lambda w, role: Plugin.objects.filter(
        name=f"made-by-{role}", owner=w.users[role], credential=w.credential, status="pending"
    ).exists(),
    "PATCH /api/plugins/{id}/": lambda w, role: Plugin.objects.get(pk=w.plugin.pk).ref == f"ref-of-{role}",
    "DELETE /api/plugins/{id}/": lambda w, role: not Plugin.objects.filter(pk=w.plugin.pk).exists(),
    "PUT /api/notifications/subscriptions/{event}/": lambda w, role: Subscription.objects.filter(
        user=w.users[role], event="credential.expiring", scope="visible", email="digest", webhook=True
    ).exists(),
    "POST /api/webhooks/": lambda w, role: WebhookEndpoint.objects.filter(name=f"hook-of-{role}").exists(),
    "PATCH /api/webhooks/{endpoint_id}/": lambda w, role: (
        WebhookEndpoint.objects.get(pk=w.endpoint.pk).name == f"renamed by {role}"
    ),
    "PATCH /api/webhooks/{team_endpoint}/": lambda w, role: (
        WebhookEndpoint.objects.get(pk=w.team_endpoint.pk).name == f"renamed by {role}"
    ),
    "DELETE /api/webhooks/{endpoint_id}/": lambda w, role: (
        not WebhookEndpoint.objects.filter(pk=w.endpoint.pk).exists()
    ),
    "POST /api/webhooks/{endpoint_id}/rotate-secret/": lambda w, role: (
        WebhookEndpoint.objects.get(pk=w.endpoint.pk).secret_number == 2
    ),
    # Queued when the request's transaction commits, which this test's transaction never does.
    "POST /api/webhooks/{endpoint_id}/test/": lambda w, role: Delivery.objects.filter(
        endpoint=w.endpoint, event="webhook.test", status="pending"
    ).exists(),
    # Queued when the request's transaction commits, which this test's transaction never does.
    "POST /api/plugins/{id}/sync/": lambda w, role: Plugin.objects.get(pk=w.plugin.pk).status == "pending",
}


def _cells() -> list[Any]:
    return [
        pytest.param(request_line, role, statuses[index], id=f"{request_line} as {role}")
        for request_line, statuses in MATRIX.items()
        for index, role in enumerate(ROLES)
    ]


def _snapshot() -> dict[str, Any]:
    """What a refused request must leave as it was: the credential row, every share and every plugin."""
    return {
        "credentials": list(Credential.objects.order_by("pk").values()),
        "plugins": list(Plugin.objects.order_by("pk").values()),
        "user_shares": sorted(
            CredentialUserPermission.objects.values_list("content_object_id", "user_id", "permission__codename")
        ),
        "group_shares": sorted(
            CredentialGroupPermission.objects.values_list("content_object_id", "group_id", "permission__codename")
        ),
        "versions": list(CredentialVersion.objects.order_by("pk").values()),
        "access_requests": list(AccessRequest.objects.order_by("pk").values()),
        "webhook_endpoints": list(WebhookEndpoint.objects.order_by("pk").values()),
        "subscriptions": list(Subscription.objects.order_by("pk").values()),
        "deliveries": list(Delivery.objects.order_by("pk").values()),
    }


def method_of(request_line: str) -> str:
    return request_line.split(" ", 1)[0]


def send(world: World, role: str, request_line: str) -> Any:
    method, template = request_line.split(" ", 1)
    body = REQUEST_BODIES.get(request_line)
    data = body(world, role) if body is not None else None
    return world.client(role).generic(
        method,
        world.fill(template),
        data="" if data is None else json.dumps(data),
        content_type="application/json",
    )


@pytest.mark.parametrize(("request_line", "role", "expected"), _cells())
def test_status(world: World, request_line: str, role: str, expected: int) -> None:
    before = _snapshot()

    response = send(world, role, request_line)

    assert response.status_code == expected, response.content[:500]
    for secret in world.secrets:
        assert secret.encode() not in response.content
    if expected >= 400:
        assert _snapshot() == before, "a refused request changed something"
    elif request_line in EFFECTS:
        assert EFFECTS[request_line](world, role), "the request was answered 2xx but did not do its work"
    if expected == 404 and method_of(request_line) != "HEAD":
        assert response.json()["code"] == "not_found"
        assert world.credential.name.encode() not in response.content


# A change that fails its preconditions, or its validation, by each role. Whoever could not make the
# change with them right is told that first (RFC 9110, 13.2.1): 404 if they may not see the credential,
# 403 if they may see but not change it. Only a role that may change it learns of the version.
# Each case: (headers, body beyond the one in REQUEST_BODIES, status for a role that may change it).
STALE = 1_000  # added to the credential's version: a version nobody read
CHANGE_CASES: dict[str, tuple[Callable[[World], dict[str, str]], Callable[[World], dict[str, Any]], int]] = {
    "no version": (lambda w: {}, lambda w: {"version": None}, 428),
    "a stale version in the body": (lambda w: {}, lambda w: {"version": w.credential.version + STALE}, 409),
    "a stale If-Match": (
        lambda w: {"HTTP_IF_MATCH": f'"{w.credential.version + STALE}"'},
        lambda w: {"version": None},
        412,
    ),
    "a malformed If-Match": (lambda w: {"HTTP_IF_MATCH": "yesterday's"}, lambda w: {"version": None}, 400),
    "a bad body": (lambda w: {}, lambda w: {"name": 5}, 400),
}
# fmt: off
REFUSED_BEFORE_PRECONDITIONS: dict[str, int] = {
    "anonymous": 401, "stranger": 404, "use": 403, "view": 403, "member": 403,
}
# fmt: on


def _change_cells() -> list[Any]:
    return [
        pytest.param(request_line, case, role, id=f"{request_line} with {case} as {role}")
        for request_line in (
            "PUT /api/credentials/{id}/",
            "PATCH /api/credentials/{id}/",
            "POST /api/credentials/{id}/versions/{number}/rollback/",
        )
        for case in CHANGE_CASES
        for role in ROLES
    ]


@pytest.mark.parametrize(("request_line", "case", "role"), _change_cells())
def test_authorization_comes_before_preconditions(world: World, request_line: str, case: str, role: str) -> None:
    headers, changes, if_allowed = CHANGE_CASES[case]
    expected = REFUSED_BEFORE_PRECONDITIONS.get(role, if_allowed)
    body = {**REQUEST_BODIES[request_line](world, role), **changes(world)}
    body = {key: value for key, value in body.items() if value is not None}
    method, template = request_line.split(" ", 1)
    before = _snapshot()

    response = world.client(role).generic(
        method, world.fill(template), data=json.dumps(body), content_type="application/json", **headers(world)
    )

    assert response.status_code == expected, response.content[:500]
    assert _snapshot() == before, "a refused request changed something"
    if expected == 404:
        assert response.json()["code"] == "not_found"
        assert world.credential.name.encode() not in response.content
    if expected in (401, 403, 404):
        assert b"version" not in response.content.lower()  # nothing said of the version to who may not change


@pytest.mark.parametrize("role", ROLES)
def test_a_plugin_change_is_authorized_before_its_body_is_read(world: World, role: str) -> None:
    expected = {"anonymous": 401, "owner": 400, "superuser": 400}.get(role, 404)
    before = _snapshot()

    response = world.client(role).patch(f"/api/plugins/{world.plugin.pk}/", {"ref": 5}, format="json")

    assert response.status_code == expected, response.content[:500]
    assert _snapshot() == before


@pytest.mark.parametrize("role", list(VISIBILITY))
def test_list_shows_what_the_role_may_see(world: World, role: str) -> None:
    appears, permissions = VISIBILITY[role]

    response = world.client(role).get("/api/credentials/")

    assert response.status_code == 200
    rows = {row["id"]: row for row in response.json()["results"]}
    assert (str(world.credential.pk) in rows) is appears
    if appears:
        row = rows[str(world.credential.pk)]
        assert row["permissions"] == permissions
        for key in VIEW_ONLY_KEYS:
            assert (row[key] is None) is ("view" not in permissions), key
    for secret in world.secrets:
        assert secret.encode() not in response.content


@pytest.mark.parametrize("role", list(VISIBILITY))
def test_needs_attention_shows_what_the_role_may_see(world: World, role: str) -> None:
    """The world's credential was never tested: it needs attention for each role that may see it, and only them."""
    appears, permissions = VISIBILITY[role]

    response = world.client(role).get("/api/credentials/attention/", {"section": "never_tested"})

    assert response.status_code == 200
    body = response.json()
    rows = {row["id"]: row for row in body["results"]}
    assert (str(world.credential.pk) in rows) is appears
    assert body["counts"]["never_tested"] == len(rows)
    if appears:
        row = rows[str(world.credential.pk)]
        assert row["permissions"] == permissions and "never_tested" in row["attention"]
        for key in VIEW_ONLY_KEYS:
            assert (row[key] is None) is ("view" not in permissions), key
    for secret in world.secrets:
        assert secret.encode() not in response.content


@pytest.mark.parametrize("role", [role for role, (appears, _) in VISIBILITY.items() if appears])
def test_detail_shows_what_the_role_may_see(world: World, role: str) -> None:
    _, permissions = VISIBILITY[role]

    response = world.client(role).get(f"/api/credentials/{world.credential.pk}/")

    assert response.status_code == 200
    body = response.json()
    assert body["permissions"] == permissions
    for key in VIEW_ONLY_KEYS:
        assert (body[key] is None) is ("view" not in permissions), key
    if "view" in permissions:
        assert body["secrets_set"] == {"token": True}
    for secret in world.secrets:
        assert secret.encode() not in response.content


def _api_routes() -> set[str]:
    """Every path under /api/, as MATRIX writes it: /api/credentials/{id}/ and /api/credential-types/{slug}/."""
    routes = set()
    for pattern in get_resolver().url_patterns:
        prefix = str(pattern.pattern)
        if not prefix.startswith("api/"):
            continue
        for inner in getattr(pattern, "url_patterns", [pattern]):
            route = prefix + (str(inner.pattern) if inner is not pattern else "")
            route = re.sub(r"\(\?P<(\w+)>[^)]*\)|<\w+:(\w+)>", lambda m: "{" + (m[1] or m[2]) + "}", route)
            routes.add("/" + route.replace("^", "").replace("$", "").replace("{pk}", "{id}"))
    return routes


def test_the_matrix_covers_every_api_route() -> None:
    """A route added under /api/ without a row here fails this test."""
    covered = {line.split(" ", 1)[1].split("?")[0] for line in MATRIX}

    assert _api_routes() <= covered, sorted(_api_routes() - covered)
