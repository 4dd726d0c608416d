"""guardian's object-permissions pages for credentials and teams, every change made through the services."""

from __future__ import annotations

from typing import Any, cast

from django.contrib import admin, messages
from django.contrib.auth.admin import GroupAdmin
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Model
from django.http import HttpRequest
from guardian.admin import AdminGroupObjectPermissionsForm, AdminUserObjectPermissionsForm, GuardedModelAdminMixin

from config.admin_actor import ActorForm, form_for_request
from credentials.errors import CredentialNotFound, CredentialPermissionDenied, InvalidCredential
from credentials.permissions import CODENAMES, MANAGE_TEAM, SHAREABLE
from credentials.sharing import CODE_TO_ACTION, credential_share, credential_unshare
from credentials.teams import team_set_manager

_CHOICES = [(CODENAMES[action], action.capitalize()) for action in SHAREABLE]


class _ThroughServices(ActorForm):
    """Offer only the shareable permissions, and save them with credential_share / credential_unshare."""

    grantee_kind = ""
    # From guardian's form, each subclass's other base. Its get_obj_perms_field_initial answers codenames,
    # though annotated as Permission rows: the ignores in this module are for that and for the mixing.
    obj: Model
    cleaned_data: dict[str, Any]

    def get_obj_perms_field_choices(self) -> list[tuple[str, str]]:
        return _CHOICES

    def get_obj_perms_field_initial(self) -> list[str]:
        shareable = {codename for codename, _ in _CHOICES}
        initial = super().get_obj_perms_field_initial()  # type: ignore[misc]
        return [codename for codename in initial if codename in shareable]

    def save_obj_perms(self) -> None:
        wanted = {CODE_TO_ACTION[codename] for codename in self.cleaned_data["permissions"]}
        held = {CODE_TO_ACTION[codename] for codename in self.get_obj_perms_field_initial()}
        grantee = {self.grantee_kind: getattr(self, self.grantee_kind)}
        common = {"actor": self.actor, "credential_id": self.obj.pk, "ip": self.ip, **grantee}
        try:
            if wanted - held:
                credential_share(permissions=sorted(wanted - held), **common)
            if held - wanted:
                credential_unshare(permissions=sorted(held - wanted), **common)
        except InvalidCredential as exc:
            raise ValidationError([m for messages_ in exc.as_dict().values() for m in messages_]) from None


class _UserSharesForm(_ThroughServices, AdminUserObjectPermissionsForm):  # type: ignore[misc]
    grantee_kind = "user"


class _GroupSharesForm(_ThroughServices, AdminGroupObjectPermissionsForm):  # type: ignore[misc]
    grantee_kind = "group"


class CredentialSharingAdminMixin(GuardedModelAdminMixin):
    """The "Object permissions" page of a credential: who it is shared with, changed through the services."""

    # guardian builds these forms itself, as form_class(user, obj, data), from its own hooks rather
    # than ModelAdmin.get_form: ActorAdminMixin cannot reach them, so they take the same subclass directly.

    def get_obj_perms_manage_user_form(self, request: HttpRequest) -> type[_UserSharesForm]:
        return form_for_request(_UserSharesForm, request)

    def get_obj_perms_manage_group_form(self, request: HttpRequest) -> type[_GroupSharesForm]:
        return form_for_request(_GroupSharesForm, request)

    def _refused(self, view: Any, request: HttpRequest, *args: Any) -> Any:
        try:
            return view(request, *args)
        except (CredentialPermissionDenied, CredentialNotFound, ValidationError) as exc:
            messages.error(request, " ".join(getattr(exc, "messages", [str(exc)])))
            return self.obj_perms_manage_view(request, args[0])

    def obj_perms_manage_user_view(self, request: HttpRequest, object_pk: str, user_id: str) -> Any:
        return self._refused(super().obj_perms_manage_user_view, request, object_pk, user_id)

    def obj_perms_manage_group_view(self, request: HttpRequest, object_pk: str, group_id: str) -> Any:
        return self._refused(super().obj_perms_manage_group_view, request, object_pk, group_id)


# --- Teams: Django's group admin, plus a page to appoint team managers ---------------------------


class _TeamManagerForm(ActorForm, AdminUserObjectPermissionsForm):
    """Offer only "manage", and save it with team_set_manager."""

    def get_obj_perms_field_choices(self) -> list[tuple[str, str]]:
        return [(MANAGE_TEAM, "Manage the team's credentials (change and share them)")]

    def get_obj_perms_field_initial(self) -> list[str]:  # type: ignore[override]  # codenames (see above)
        initial: list[str] = super().get_obj_perms_field_initial()  # type: ignore[assignment]
        return [codename for codename in initial if codename == MANAGE_TEAM]

    def save_obj_perms(self) -> None:
        wanted = MANAGE_TEAM in self.cleaned_data["permissions"]
        team = cast(Group, self.obj)  # this form is the group admin's
        team_set_manager(actor=self.actor, team=team, user=self.user, is_manager=wanted, ip=self.ip)


# guardian's mixin and ModelAdmin declare change_form_template differently: the ignore is for their stubs.
class TeamAdmin(GuardedModelAdminMixin, GroupAdmin):  # type: ignore[misc]
    """Groups are teams: members use the team's credentials; managers are appointed on "Object permissions"."""

    def get_obj_perms_manage_user_form(self, request: HttpRequest) -> type[_TeamManagerForm]:
        return form_for_request(_TeamManagerForm, request)

    def get_obj_perms_manage_group_form(self, request: HttpRequest) -> type:
        raise PermissionDenied("Teams are managed by users, not by other groups.")


admin.site.unregister(Group)
admin.site.register(Group, TeamAdmin)
