"""The credentials JSON API (Django REST framework)."""
