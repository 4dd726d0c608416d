"""manage.py audit_app_role_sql ROLE: print the grants that let ROLE run the app without owning the audit trail."""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from audit.roles import app_role_grants


class Command(BaseCommand):
    help = (
        "Print the SQL that grants ROLE what the app needs: everything on its tables, but only reading and "
        "appending on the audit trail. Run it as the tables' owner after every migrate."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("role", help="The PostgreSQL role the web and worker processes connect as.")

    def handle(self, *args: Any, role: str, **options: Any) -> None:
        for statement in app_role_grants(role):
            self.stdout.write(f"{statement};")
