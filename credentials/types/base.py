"""Credential types: the base class, the registry its subclasses join, and discovery in apps."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import autodiscover_modules

from credentials.types.certificates import parse_certificates
from credentials.types.hosts import normalise_host, url_host
from credentials.types.schema import (
    Field,
    SchemaErrors,
    parse_schema,
    validate_values,
    with_secret_history,
)

_registry: dict[str, CredentialType] = {}


class CredentialType:
    """A kind of credential: its fields and what it knows about using them.

    A subclass that sets ``slug`` registers itself. Other apps define their types in a
    ``credential_types.py`` module, which ``autodiscover()`` imports at start-up.
    """

    # Class attributes of the built-in types; a custom type sets them on its instance (below).
    slug: str = ""
    name: str = ""
    category: str = "other"
    icon: str = "key"
    description: str = ""
    fields: tuple[Field, ...] = ()
    # Fields that name where the secret is sent (its hosts): the allowed hosts follow them.
    destination_fields: tuple[str, ...] = ()
    # Fields that shape how the secret travels (port, TLS mode, CA certificate, the header that
    # carries it). With the destinations, they are the credential's route (ARCHITECTURE.md, invariant 9).
    transport_fields: tuple[str, ...] = ()
    # PEM certificates (a CA to verify the server with), parsed when saved.
    certificate_fields: ClassVar[tuple[str, ...]] = ()
    # Hosts the secret may reach besides those named by its fields (github.com for git).
    extra_hosts: ClassVar[tuple[str, ...]] = ()
    # How git receives this credential: "https", "ssh", or "" when it cannot clone.
    git_transport: ClassVar[str] = ""
    is_system: ClassVar[bool] = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "slug" in cls.__dict__ and cls.slug:
            _register(cls())

    # --- schema ---------------------------------------------------------------------------

    @property
    def secret_field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields if f.secret)

    @property
    def route_fields(self) -> tuple[str, ...]:
        """Every field that decides where or how the secret is sent: changing one requires every secret again,
        so that whoever may change a credential cannot redirect or downgrade it and capture it."""
        return self.destination_fields + tuple(n for n in self.transport_fields if n not in self.destination_fields)

    def field(self, name: str) -> Field:
        return next(f for f in self.fields if f.name == name)

    def clean(self, values: Any) -> dict[str, Any]:
        """Validate submitted values against the schema, then the type's own rules."""
        cleaned = validate_values(self.fields, values)
        errors = self.check(cleaned)
        if errors:
            raise SchemaErrors(errors)
        return cleaned

    def check(self, values: Mapping[str, Any]) -> dict[str, list[str]]:
        """Rules beyond the schema (a key that parses, a URL with a host); errors by field."""
        errors: dict[str, list[str]] = {}
        for name in self.destination_fields:
            if name in values:
                try:
                    self._field_hosts(name, values[name])
                except ValueError as exc:
                    errors[name] = [str(exc)]
        for name in self.certificate_fields:
            if values.get(name):
                try:
                    parse_certificates(values[name])
                except ValueError as exc:
                    errors[name] = [str(exc)]
        return errors

    def metadata(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Non-secret facts derived from the values, stored in clear for display (a fingerprint)."""
        return {}

    def clean_with_metadata(self, values: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        """``clean`` and ``metadata`` together; a type whose check already derives the facts
        (parsing a key) overrides it to do that work once."""
        cleaned = self.clean(values)
        return cleaned, self.metadata(cleaned)

    # --- destinations (ARCHITECTURE.md, invariant 9) ------------------------------------------------

    def destination_hosts(self, values: Mapping[str, Any]) -> list[str]:
        """The hosts the fields point at; a credential's allowed hosts must include them."""
        hosts: list[str] = []
        for name in self.destination_fields:
            if values.get(name):
                hosts.extend(h for h in self._field_hosts(name, values[name]) if h not in hosts)
        return hosts

    def default_allowed_hosts(self, values: Mapping[str, Any]) -> list[str]:
        hosts = self.destination_hosts(values)
        return hosts + [h for h in self.extra_hosts_for(values) if h not in hosts]

    def extra_hosts_for(self, values: Mapping[str, Any]) -> tuple[str, ...]:
        return self.extra_hosts

    def _field_hosts(self, name: str, value: Any) -> list[str]:
        spec = self.field(name)
        if name.endswith("url"):
            return [url_host(value)]
        if spec.type == "string" and spec.input != "textarea":
            return [normalise_host(value)]
        raise NotImplementedError(f"{type(self).__name__} must say which hosts '{name}' names")

    # --- git ------------------------------------------------------------------------------

    def git_http_auth(self, values: Mapping[str, Any]) -> tuple[str, str] | None:
        """The user name and password git sends over HTTPS, or None if it cannot."""
        return None

    def __repr__(self) -> str:
        return f"<credential type {self.slug}>"


class CustomCredentialType(CredentialType):
    """A type that staff defined in the admin; its schema is data, not code."""

    is_system = False

    def __init__(
        self,
        *,
        slug: str,
        name: str,
        category: str,
        icon: str,
        description: str,
        schema: Any,
        secret_history: Iterable[str] = (),
        test_spec: Any = None,
    ):
        self.slug = slug
        self.name = name
        self.category = category
        self.icon = icon
        self.description = description
        self.fields = with_secret_history(parse_schema(schema, stored=True), secret_history)
        # The same conventions as the built-in types: these fields name where the secret goes...
        self.destination_fields = tuple(
            f.name for f in self.fields if f.name in ("base_url", "url", "host") and f.type == "string"
        )
        # ...and these shape how: a conventional name, or a clear field the test request is built from.
        in_test = fields_in_test_spec(test_spec)
        self.transport_fields = tuple(
            f.name
            for f in self.fields
            if not f.secret
            and f.name not in self.destination_fields
            and (f.name in TRANSPORT_NAMES or f.name in in_test)
        )


# Fields of a custom type that shape how its secret travels, by name, as the built-in types' do.
TRANSPORT_NAMES = frozenset({"port", "scheme", "tls", "sslmode", "ssl_root_cert", "tls_ca_cert", "header_name"})
# ``{name}`` in a custom type's test spec: the credential's field of that name.
TEST_SPEC_PLACEHOLDER = re.compile(r"\{([a-z][a-z0-9_]*)\}")


def fields_in_test_spec(test_spec: Any) -> set[str]:
    """The field names a custom type's test request is built from (its URL and header values)."""
    if not isinstance(test_spec, Mapping):
        return set()
    templates = [test_spec.get("url")]
    headers = test_spec.get("headers")
    if isinstance(headers, Mapping):
        templates.extend(headers.values())
    return {name for text in templates if isinstance(text, str) for name in TEST_SPEC_PLACEHOLDER.findall(text)}


def _register(instance: CredentialType) -> None:
    existing = _registry.get(instance.slug)
    if existing is not None and type(existing).__qualname__ != type(instance).__qualname__:
        raise ImproperlyConfigured(
            f"Credential type slug '{instance.slug}' is defined twice: by "
            f"{type(existing).__module__}.{type(existing).__qualname__} and "
            f"{type(instance).__module__}.{type(instance).__qualname__}."
        )
    _registry[instance.slug] = instance


def get_type(slug: str) -> CredentialType:
    """The registered system type for ``slug``; KeyError if there is none."""
    return _registry[slug]


def system_types() -> list[CredentialType]:
    return sorted(_registry.values(), key=lambda t: (t.category, t.name))


def autodiscover() -> None:
    """Import the built-in types and every installed app's ``credential_types`` module."""
    import credentials.types.builtin  # noqa: F401  (its classes register on import)

    autodiscover_modules("credential_types")
