"""Plugins registered from git repositories (arrives with its own issue)."""
