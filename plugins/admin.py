"""The Django admin for plugins: adds, changes, syncs and deletes go through the services, as on the site."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect

from config.actors import signed_in
from config.addresses import client_ip
from config.admin_actor import ActorAdminMixin, ActorForm
from config.errors import QueueUnavailable
from credentials.models import Credential
from plugins.errors import InvalidPlugin, PluginNotFound
from plugins.forms import NO_CREDENTIAL_LABEL, credential_label
from plugins.models import Plugin
from plugins.selectors import clone_credentials_for_user, plugin_list_for_user
from plugins.services import plugin_delete, plugin_register, plugin_sync_request, plugin_update

# What the system sets: never typed in by staff.
SYSTEM_FIELDS = (
    "status", "commit", "path", "last_error", "run", "started_at",
    "last_synced_at", "credential_used_at", "created_at", "updated_at",
)  # fmt: skip
ADD_FIELDS = ("name", "repo_url", "ref", "credential")
CREDENTIAL_HELP = (
    "Only credentials you may use and that can clone: an SSH key for SSH URLs, a token or basic "
    "authentication for https:// URLs, whose allowed hosts include the URL's host."
)


class PluginAdminForm(ActorForm, forms.ModelForm):
    """The plugin's form as ModelAdmin drives it.

    ModelAdmin saves as soon as ``is_valid()`` is true, and an exception there is a 500; so the
    service is called while validating, and its refusals become errors on the form's fields.
    """

    class Meta:
        model = Plugin
        fields = ADD_FIELDS

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        if "credential" in self.fields:
            self._offer_credentials(cast(forms.ModelChoiceField, self.fields["credential"]))

    def _offer_credentials(self, field: forms.ModelChoiceField) -> None:
        ids = [credential.pk for credential in clone_credentials_for_user(self.actor)]
        if self.instance.credential_id is not None:
            ids.append(self.instance.credential_id)  # kept, so a change of name or ref needs no move
        field.queryset = Credential.objects.filter(pk__in=ids).select_related("type").defer("ciphertext")
        field.queryset = field.queryset.order_by("name", "environment")
        field.label_from_instance = credential_label  # type: ignore[method-assign, assignment]  # this field's labels
        field.empty_label = NO_CREDENTIAL_LABEL
        field.help_text = CREDENTIAL_HELP

    def _post_clean(self) -> None:
        if self.errors:  # full_clean has filled them by now: no second clean
            return
        try:
            self.instance = self._register() if self.instance._state.adding else self._update()
        except InvalidPlugin as exc:
            for key, problems in exc.errors.items():
                for message in problems:
                    self.add_error(key if key in self.fields else None, message)
        except (PluginNotFound, QueueUnavailable) as exc:
            self.add_error(None, str(exc))

    def _credential_id(self) -> Any:
        credential = self.cleaned_data.get("credential")
        return credential.pk if credential is not None else None

    def _register(self) -> Plugin:
        data = self.cleaned_data
        return plugin_register(
            actor=self.actor,
            name=data["name"],
            repo_url=data["repo_url"],
            ref=data.get("ref", ""),
            credential_id=self._credential_id(),
            ip=self.ip,
        )

    def _update(self) -> Plugin:
        changes = {key: self.cleaned_data[key] for key in ("name", "ref") if key in self.cleaned_data}
        if "credential" in self.changed_data:
            changes["credential_id"] = self._credential_id()
        return plugin_update(actor=self.actor, plugin_id=self.instance.pk, ip=self.ip, **changes)

    def save(self, commit: bool = True) -> Plugin:
        return self.instance  # the service saved it while the form validated


@admin.register(Plugin)
class PluginAdmin(ActorAdminMixin, admin.ModelAdmin):
    form = PluginAdminForm
    list_display = (
        "name", "repo_url", "ref", "credential", "owner", "status", "short_commit", "last_synced_at",
    )  # fmt: skip
    list_filter = ("status",)
    search_fields = ("name", "repo_url")
    actions = ["sync_selected"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Plugin]:
        # The selector decides: a superuser sees every plugin, other staff their own (as the services do).
        queryset = plugin_list_for_user(request.user)
        ordering = self.get_ordering(request)
        return queryset.order_by(*ordering) if ordering else queryset

    # The stubs' fieldset type is a private TypedDict; these plain dicts are what Django reads.
    def get_fieldsets(self, request: HttpRequest, obj: Plugin | None = None) -> list[tuple[str | None, dict]]:  # type: ignore[override]
        if obj is None:
            return [(None, {"fields": ADD_FIELDS})]
        return [(None, {"fields": (*ADD_FIELDS, "owner")}), ("State", {"fields": SYSTEM_FIELDS})]

    def get_readonly_fields(self, request: HttpRequest, obj: Plugin | None = None) -> tuple[str, ...]:
        # The URL is what the checkout is of: a new URL is a new plugin.
        return () if obj is None else ("repo_url", "owner", *SYSTEM_FIELDS)

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except QueueUnavailable as exc:
            # The clone is queued when the admin's transaction commits, after the form was saved;
            # the service has already undone the registration.
            self.message_user(request, f"{exc} Nothing was registered.", messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    # The service already wrote the row and its audit event while the form validated.
    def save_model(self, request: HttpRequest, obj: Plugin, form: Any, change: bool) -> None:
        pass

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        pass

    def delete_model(self, request: HttpRequest, obj: Plugin) -> None:
        try:
            plugin_delete(actor=signed_in(request.user), plugin_id=obj.pk, ip=client_ip(request))
        except PluginNotFound:
            raise Http404("Plugin not found.") from None

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Plugin]) -> None:
        for plugin in queryset:
            self.delete_model(request, plugin)

    @admin.action(description="Sync selected plugins", permissions=["change"])
    def sync_selected(self, request: HttpRequest, queryset: QuerySet[Plugin]) -> None:
        queued = 0
        for plugin in queryset:
            try:
                plugin_sync_request(actor=signed_in(request.user), plugin_id=plugin.pk, ip=client_ip(request))
            except PluginNotFound:
                continue  # deleted meanwhile
            except QueueUnavailable as exc:
                self.message_user(request, str(exc), messages.ERROR)
                return
            queued += 1
        self.message_user(request, f"{queued} sync(s) queued; their results appear under 'Status'.")

    @admin.display(description="Commit", ordering="commit")
    def short_commit(self, obj: Plugin) -> str:
        return obj.commit[:10] or "—"
