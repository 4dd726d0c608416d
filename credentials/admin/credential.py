"""The Django admin for credentials; every credential write goes through the services."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.actions import delete_selected as django_delete_selected
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import QuerySet
from django.forms.models import ModelFormOptions
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.html import format_html_join
from django.views.decorators.debug import sensitive_post_parameters

from config.actors import signed_in
from config.addresses import client_ip
from config.admin_actor import ActorForm, form_for_request
from config.admin_readonly import NoWrites
from credentials.admin.sharing import CredentialSharingAdminMixin
from credentials.errors import CredentialInUse, CredentialNotFound, TestQueueUnavailable
from credentials.forms.credential import CredentialForm, schema_field_names
from credentials.models import Credential, CredentialType, CredentialVersion
from credentials.permissions import VIEW, user_can
from credentials.selectors import credential_list_for_user, credential_type_list, credential_types_by_category
from credentials.services import credential_delete
from credentials.testers.runs import credential_test_request


class CredentialAdminForm(ActorForm, CredentialForm):
    """The schema form as ModelAdmin drives it.

    ModelAdmin saves as soon as ``is_valid()`` is true, and an exception there is a 500; so
    the service is called while validating, and its refusals become errors on the form.
    """

    class _Meta:
        model = Credential
        fields = ()

    # Not a ModelForm (its fields come from the type's schema), yet the admin's read-only rows
    # look up labels, help texts and the model in form._meta.
    _meta: ModelFormOptions[Credential] = ModelFormOptions(_Meta)

    def __init__(self, *args: Any, instance: Credential | None = None, **kwargs: Any):
        self.instance = instance
        super().__init__(*args, credential=instance, **kwargs)

    def _post_clean(self) -> None:
        if self.errors:  # full_clean has filled them by now: no second clean
            return
        saved = self.call_service(actor=self.actor, ip=self.ip)
        if saved is not None:
            self.instance = saved

    def save(self, commit: bool = True) -> Credential | None:
        return self.instance


ADD_ATTRIBUTES = ["name", "environment", "team", "description", "tags", "expires_at", "retest_daily", "keep_versions"]
CHANGE_ATTRIBUTES = [
    "name", "environment", "description", "tags", "expires_at", "is_active", "retest_daily", "keep_versions", "version",
]  # fmt: skip
VIEW_ATTRIBUTES = [
    "name", "environment", "description", "tags", "expires_at", "is_active", "retest_daily", "keep_versions",
    "allowed_hosts",
]  # fmt: skip
STORED_FACTS = [
    "type",
    "owner",
    "team",
    "secrets_stored",
    "key_facts",
    "current_version",
    "key_id",
    "last_test",
    "retest_daily",
    # Who may request access, and for how long at most: set on the site's share page or through the API.
    "requestable_by",
    "requestable_by_everyone",
    "max_access_hours",
    "created_by",
    "created_at",
    "updated_by",
    "updated_at",
]
CHOOSE_TYPE_TEMPLATE = "admin/credentials/credential/choose_type.html"
IN_USE_HINT = (
    "A credential that plugins use cannot be deleted: delete those plugins or move them to another credential first."
)


class CredentialVersionInline(NoWrites, admin.TabularInline):
    """The secret's kept versions on the credential's change page: facts only, read-only, never the ciphertext.

    Restoring and destroying are the site's and the API's (one audited service each): nothing here writes.
    """

    model = CredentialVersion
    fk_name = "credential"
    verbose_name = "version of the secret"
    verbose_name_plural = "History of the secret (restore or destroy a version on the site's page)"
    fields = readonly_fields = (
        "number", "origin", "restored_from", "changed", "key_id", "created_at", "created_by", "destroyed_at",
        "destroyed_by",
    )  # fmt: skip
    extra = 0
    can_delete = False
    show_change_link = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[CredentialVersion]:
        # Only the parent's rows reach the page (the formset filters by it); the token is never loaded.
        return super().get_queryset(request).defer("ciphertext").select_related("created_by", "destroyed_by")

    # Whoever may view the credential may read its history; its own model permissions are not asked. Without
    # a credential (get_queryset asks so) the answer is the page's: the inline exists only on a credential's.
    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is None or (isinstance(obj, Credential) and user_can(request.user, VIEW, obj))

    @admin.display(description="Changed fields")
    def changed(self, version: CredentialVersion) -> str:
        return ", ".join(version.changed_fields) or "—"


@admin.register(Credential)
class CredentialAdmin(CredentialSharingAdminMixin, admin.ModelAdmin):
    # Six columns, so that the list fits 1,280 px beside the admin's navigation and filters; whether it is active,
    # and its key, are a filter and the change page. Type and expiry are short texts that may wrap: Django keeps a
    # foreign key's or a date's cell on one line (and admin.css lets the headers and long names wrap too).
    list_display = ("name", "type_name", "environment", "owner_or_team", "test_status", "expires")
    list_filter = ("type", "environment", "is_active", "test_status", "team", "expires_at")
    search_fields = ("name", "description", "environment", "owner__username")
    view_on_site = False

    class Media:
        # Shows a schema field only while its condition holds, as on the site's own pages; beside an SSH
        # key's pinned host keys, fetches a server's keys (or GitHub's and GitLab's) to tick and pin.
        js = ("latchkey/conditional.js", "latchkey/hostkeys.js")
        css = {"all": ("latchkey/admin.css",)}

    actions = ["test_selected", "delete_selected"]
    inlines = [CredentialVersionInline]

    def get_inline_instances(self, request: HttpRequest, obj: Credential | None = None) -> list[Any]:
        # Shown, never posted: the service saves while the form validates (CredentialAdminForm), and a
        # view-only formset posted back has nothing to say. On add there is no history yet.
        if obj is None or request.method == "POST":
            return []
        return super().get_inline_instances(request, obj)

    @admin.action(description="Test the selected credentials")
    def test_selected(self, request: HttpRequest, queryset: QuerySet[Credential]) -> None:
        queued, refused = 0, []
        for credential in queryset:
            try:
                credential_test_request(
                    actor=signed_in(request.user), credential_id=credential.pk, ip=client_ip(request)
                )
            except (CredentialNotFound, PermissionDenied):
                refused.append(credential.name)
            except TestQueueUnavailable as exc:
                self.message_user(request, str(exc), messages.ERROR)
                return
            else:
                queued += 1
        self.message_user(request, f"{queued} test(s) queued; their results appear in the Test status column.")
        if refused:
            self.message_user(request, f"You may not use: {', '.join(refused)}.", messages.WARNING)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Credential]:
        # The selector decides what this user sees, and never loads the ciphertext.
        queryset = credential_list_for_user(request.user).defer("ciphertext")
        ordering = self.get_ordering(request)
        return queryset.order_by(*ordering) if ordering else queryset

    # --- add: first the type, then its form ---------------------------------------------------

    @method_decorator(sensitive_post_parameters())
    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        if request.method == "POST" and "_saveasnew" in request.POST:
            raise PermissionDenied("Credentials cannot be saved as new: their secrets are not on the page.")
        if object_id is None:
            if not self.has_add_permission(request):
                raise PermissionDenied
            if self._requested_type(request) is None:
                return self._choose_type(request)
        return super().changeform_view(request, object_id, form_url, extra_context)

    def _requested_type(self, request: HttpRequest) -> CredentialType | None:
        # Kept on the request, read by several admin hooks (an attribute HttpRequest does not declare).
        if not hasattr(request, "_credential_type_row"):
            slug = request.GET.get("type", "")
            request._credential_type_row = credential_type_list().filter(slug=slug).first() if slug else None  # type: ignore[attr-defined]
        return request._credential_type_row  # type: ignore[attr-defined]

    def _choose_type(self, request: HttpRequest) -> TemplateResponse:
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Choose a credential type",
            "categories": credential_types_by_category(),
            "unknown_type": request.GET.get("type", ""),
        }
        return TemplateResponse(request, CHOOSE_TYPE_TEMPLATE, context)

    def _type_row(self, request: HttpRequest, obj: Credential | None) -> CredentialType:
        type_row = obj.type if obj is not None else self._requested_type(request)
        if type_row is None:  # changeform_view asks for a type first; reaching here is a bug
            raise Http404("No credential type was chosen.")
        return type_row

    # --- the form -----------------------------------------------------------------------------

    def get_form(  # type: ignore[override]  # a schema form, not a ModelForm (above)
        self, request: HttpRequest, obj: Credential | None = None, change: bool = False, **kwargs: Any
    ) -> type[CredentialAdminForm]:
        # Not ModelAdmin's get_form (hence not ActorAdminMixin): its modelform_factory builds fields
        # from the model, and these come from the credential's type.
        teams = Group.objects.all() if request.user.is_superuser else request.user.groups.all()
        # Chosen when the credential is added; moved later on the site's edit page or through the API.
        offered = teams if obj is None else None
        return form_for_request(
            CredentialAdminForm, request, type_spec=self._type_row(request, obj).spec, teams=offered
        )

    # The stubs' fieldset type is a private TypedDict; these plain dicts are what Django reads.
    def get_fieldsets(self, request: HttpRequest, obj: Credential | None = None) -> list[tuple[str | None, dict]]:  # type: ignore[override]
        spec = self._type_row(request, obj).spec
        schema = (f"{spec.name} fields", {"fields": schema_field_names(spec, obj)})
        if obj is None:
            return [(None, {"fields": ADD_ATTRIBUTES}), schema, ("Destinations", {"fields": ["allowed_hosts"]})]
        if not self.has_change_permission(request, obj):
            return [
                (None, {"fields": VIEW_ATTRIBUTES}),
                (f"{spec.name} fields", {"fields": ["public_values"]}),
                ("Stored", {"fields": STORED_FACTS}),
            ]
        return [
            (None, {"fields": CHANGE_ATTRIBUTES}),
            schema,
            ("Destinations", {"fields": ["allowed_hosts"]}),
            ("Stored", {"fields": STORED_FACTS}),
        ]

    def get_readonly_fields(self, request: HttpRequest, obj: Credential | None = None) -> list[str]:
        return [] if obj is None else list(STORED_FACTS)

    # The service already wrote the row and its audit event while the form validated.
    def save_model(self, request: HttpRequest, obj: Credential, form: Any, change: bool) -> None:
        pass

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        pass

    # --- delete -------------------------------------------------------------------------------

    def delete_model(self, request: HttpRequest, obj: Credential) -> None:
        try:
            credential_delete(actor=signed_in(request.user), credential_id=obj.pk, ip=client_ip(request))
        except CredentialNotFound:
            raise Http404("Credential not found.") from None

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Credential]) -> None:
        # All or none: a refusal half-way leaves every selected credential in place.
        with transaction.atomic():
            for credential in queryset:
                self.delete_model(request, credential)

    # A credential that plugins use (PROTECT) is refused by Django's own confirmation pages, which
    # list the plugins; these cover the rest: the hint, and a plugin registered after the check.

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> tuple[Any, Any, Any, Any]:
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        if protected:
            self.message_user(request, IN_USE_HINT, messages.ERROR)
        return deleted, counts, perms_needed, protected

    def delete_view(self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None):
        try:
            return super().delete_view(request, object_id, extra_context)
        except CredentialInUse as exc:  # the view's transaction rolled back, its log entry included
            self.message_user(request, str(exc), messages.ERROR)
            return HttpResponseRedirect(reverse("admin:credentials_credential_change", args=[object_id]))

    @admin.action(description="Delete selected credentials", permissions=["delete"])
    def delete_selected(self, request: HttpRequest, queryset: QuerySet[Credential]) -> Any:
        # Named like Django's action so it replaces it; atomic so that a refusal keeps no log entries.
        try:
            with transaction.atomic():
                return django_delete_selected(self, request, queryset)
        except CredentialInUse as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return None

    # --- read-only facts (none of them decrypts) -------------------------------------------------

    @admin.display(description="Type", ordering="type__name")
    def type_name(self, obj: Credential) -> str:
        return obj.type.name

    @admin.display(description="Expires", ordering="expires_at")
    def expires(self, obj: Credential) -> str:
        return f"{timezone.localtime(obj.expires_at):%Y-%m-%d}" if obj.expires_at else "—"

    @admin.display(description="Owner / team", ordering="owner__username")
    def owner_or_team(self, obj: Credential) -> str:
        owner = obj.owner.get_username()
        return f"{owner} / {obj.team.name}" if obj.team is not None else owner

    @admin.display(description="Secrets")
    def secrets_stored(self, obj: Credential) -> str:
        rows = [
            (spec.label, "stored" if spec.name in obj.secrets_set else "not set")
            for spec in obj.type.spec.fields
            if spec.secret
        ]
        return format_html_join("", "<div>{}: {}</div>", rows) or "—"

    @admin.display(description="Key facts")
    def key_facts(self, obj: Credential) -> str:
        rows = [(key.replace("_", " ").capitalize(), _describe(value)) for key, value in obj.metadata.items()]
        return format_html_join("", "<div>{}: {}</div>", rows) or "—"

    @admin.display(description="Version")
    def current_version(self, obj: Credential) -> int:
        return obj.version

    @admin.display(description="Last test")
    def last_test(self, obj: Credential) -> str:
        if not obj.last_tested:
            return obj.get_test_status_display()
        summary = f"{obj.get_test_status_display()} at {obj.last_tested:%Y-%m-%d %H:%M:%S %Z}"
        if obj.test_failures > 1:
            summary += f" ({obj.test_failures} failures in a row)"
        return f"{summary}: {obj.test_message}" if obj.test_message else summary

    @admin.display(description="Values")
    def public_values(self, obj: Credential) -> str:
        rows = []
        for spec in obj.type.spec.fields:
            if spec.secret:
                rows.append((spec.label, "stored" if spec.name in obj.secrets_set else "not set"))
            elif spec.name in obj.public_fields:
                rows.append((spec.label, _describe(obj.public_fields[spec.name])))
        return format_html_join("", "<div>{}: {}</div>", rows) or "—"


def _describe(value: Any) -> str:
    """A clear-text value (a fingerprint, a list of them) as one line of plain text."""
    if isinstance(value, list):
        return "; ".join(_describe(item) for item in value)
    if isinstance(value, dict):
        return " ".join(_describe(item) for item in value.values())
    return str(value)
