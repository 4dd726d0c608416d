"""Credential types: field schemas, validation, and the registry of types."""

from credentials.types.base import CredentialType, CustomCredentialType, autodiscover, get_type, system_types
from credentials.types.schema import (
    Field,
    Option,
    SchemaErrors,
    check_secret_history,
    json_schema,
    parse_schema,
    parse_schema_change,
    secret_names,
    validate_values,
    with_secret_history,
)

__all__ = [
    "CredentialType",
    "CustomCredentialType",
    "Field",
    "Option",
    "SchemaErrors",
    "autodiscover",
    "check_secret_history",
    "get_type",
    "json_schema",
    "parse_schema",
    "parse_schema_change",
    "secret_names",
    "system_types",
    "validate_values",
    "with_secret_history",
]
