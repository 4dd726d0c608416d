"""manage.py create_first_admin: make the first superuser once, printing its password once."""

import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create a superuser with a random password if none exists; the password is printed once, never stored."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")

    def handle(self, *args, username: str, **options):
        users = get_user_model().objects
        if users.filter(is_superuser=True).exists():
            self.stdout.write("An admin account exists already; log in with it at http://127.0.0.1:8000/admin/.")
            return
        password = secrets.token_urlsafe(18)
        users.create_superuser(username=username, email="", password=password)
        self.stdout.write(
            self.style.WARNING(
                "\n  First admin account created. This password is shown once and stored nowhere:\n"
                f"    user:     {username}\n"
                f"    password: {password}\n"
                "  Log in at http://127.0.0.1:8000/ (the site) or /admin/, and change it in the admin.\n"
            )
        )
