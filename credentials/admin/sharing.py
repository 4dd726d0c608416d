"""A credential's shares page in the admin, and guardian's object-permissions pages for teams.

Both change grants through the audited services only: credential_share / credential_unshare, team_set_manager.
"""

from __future__ import annotations

from typing import Any, cast

from django.contrib import admin, messages
from django.contrib.auth.admin import GroupAdmin
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from guardian.admin import AdminUserObjectPermissionsForm, GuardedModelAdminMixin

from config.admin_actor import ActorForm, form_for_request
from credentials.forms.share import ShareForm
from credentials.permissions import MANAGE_TEAM, SHARE, user_can
from credentials.selectors import credential_shares_for_user
from credentials.teams import team_access, team_set_manager
from credentials.views.sharing import share_posted, unshare_posted

SHARES_TEMPLATE = "admin/credentials/credential/shares.html"


class CredentialSharingAdminMixin:
    """A credential's "Sharing" page: its team's access, its shares, and the site's share form.

    Replaces guardian's object-permissions pages for credentials (which offered every model
    permission and asked for a raw user name field): grants go through the services, which
    check the acting user's right to share and record who did it from where.
    """

    # From ModelAdmin, the other base.
    admin_site: admin.AdminSite
    opts: Any

    def get_urls(self) -> list[URLPattern]:
        info = self.opts.app_label, self.opts.model_name
        shares = path(
            "<path:object_id>/shares/",
            self.admin_site.admin_view(self.shares_view),
            name="{}_{}_shares".format(*info),
        )
        return [shares, *super().get_urls()]  # type: ignore[misc]

    def shares_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        credential = self.get_object(request, object_id)  # type: ignore[attr-defined]  # ModelAdmin's
        if credential is None:  # hidden from this user, or no such row: as Django's change page answers
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)  # type: ignore[attr-defined]
        # Without *view* or *share* this raises CredentialPermissionDenied, a PermissionDenied: 403.
        shares = credential_shares_for_user(request.user, credential=credential)
        here = reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_shares", args=[credential.pk])
        may_share = user_can(request.user, SHARE, credential)
        form = ShareForm(request.POST if request.method == "POST" and "unshare" not in request.POST else None)
        if request.method == "POST":
            if not may_share:  # the admin's way of saying no: a message over the page, as for its other refusals
                messages.error(request, "You may not share this credential.")
                return HttpResponseRedirect(here)
            if "unshare" in request.POST:
                unshare_posted(request, credential)
                return HttpResponseRedirect(here)
            if form.is_valid() and share_posted(request, credential, form):
                return HttpResponseRedirect(here)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": credential,
            "title": f"Who may use {credential.name}",
            "team": team_access(credential),
            "shares": shares,
            "form": form if may_share else None,
        }
        return TemplateResponse(request, SHARES_TEMPLATE, context)


# --- Teams: Django's group admin, plus a page to appoint team managers ---------------------------


class _TeamManagerForm(ActorForm, AdminUserObjectPermissionsForm):
    """Offer only "manage", and save it with team_set_manager."""

    def get_obj_perms_field_choices(self) -> list[tuple[str, str]]:
        return [(MANAGE_TEAM, "Manage the team's credentials (change and share them)")]

    def get_obj_perms_field_initial(self) -> list[str]:  # type: ignore[override]  # guardian's answers codenames
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
