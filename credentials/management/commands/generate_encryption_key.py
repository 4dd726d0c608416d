"""manage.py generate_encryption_key: print a new Fernet key, and nothing else."""

from cryptography.fernet import Fernet
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Print a new encryption key for FERNET_KEYS. Put it first to encrypt with it; keep the old ones after it."
    requires_system_checks = []  # works before any key is configured

    def handle(self, *args, **options):
        self.stdout.write(Fernet.generate_key().decode())
