"""Plugins: git repositories registered by users and cloned with a credential they may use."""
