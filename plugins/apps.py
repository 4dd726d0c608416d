"""The plugins app: registration from git repositories arrives with its own issue."""

from django.apps import AppConfig


class PluginsConfig(AppConfig):
    name = "plugins"
