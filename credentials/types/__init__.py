"""Credential types: field schemas, validation, and the registry of types."""

from credentials.types.base import CredentialType, CustomCredentialType, autodiscover, get_type, system_types
from credentials.types.schema import (
    Field,
    Option,
    SchemaErrors,
    json_schema,
    parse_schema,
    parse_schema_change,
    validate_values,
)

__all__ = [
    "CredentialType",
    "CustomCredentialType",
    "Field",
    "Option",
    "SchemaErrors",
    "autodiscover",
    "get_type",
    "json_schema",
    "parse_schema",
    "parse_schema_change",
    "system_types",
    "validate_values",
]
