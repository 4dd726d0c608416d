"""Management commands of the credentials app."""

from io import StringIO

from django.contrib.auth import get_user_model
from django.core.management import call_command


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_first_admin_is_created_once_and_its_password_works(db):
    output = run("create_first_admin")
    password = output.split("password: ")[1].split()[0]
    admin = get_user_model().objects.get(username="admin")
    assert admin.is_superuser and admin.check_password(password)
    again = run("create_first_admin")
    assert "exists already" in again and password not in again
    assert get_user_model().objects.count() == 1
