"""A type defined outside the credentials app, found by discovery at start-up."""

from credentials.types import CredentialType, Field


class WidgetKey(CredentialType):
    slug = "test_widget_key"
    name = "Widget API key (test app)"
    category = "api"
    fields = (Field(name="key", label="Key", secret=True, required=True),)
