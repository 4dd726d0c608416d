"""Changing one's password on the site: the old one stops working, the new one logs in."""

from django.test import Client
from django.urls import reverse

from tests.factories import PASSWORD

CHANGE = reverse("accounts:password-change")
NEW_PASSWORD = "a-much-longer-passphrase-9183"


def login(password: str) -> int:
    return Client().post(reverse("login"), {"username": "owner", "password": password}).status_code


def test_the_page_needs_a_login(client, db):
    response = client.get(CHANGE)
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_a_password_change_replaces_the_old_password(owner, owner_client):
    assert owner_client.get(CHANGE).status_code == 200
    changed = owner_client.post(
        CHANGE, {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    )
    assert changed.status_code == 302 and changed["Location"] == reverse("accounts:password-changed")
    assert "Password changed" in owner_client.get(changed["Location"]).content.decode()  # still logged in here
    assert login(PASSWORD) == 200  # the form again: refused
    assert login(NEW_PASSWORD) == 302


def test_a_wrong_old_password_or_a_weak_new_one_changes_nothing(owner, owner_client):
    wrong = owner_client.post(
        CHANGE, {"old_password": "wrong", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    )
    assert wrong.status_code == 200 and "Your old password was entered incorrectly" in wrong.content.decode()
    weak = owner_client.post(CHANGE, {"old_password": PASSWORD, "new_password1": "123", "new_password2": "123"})
    assert weak.status_code == 200 and "too short" in weak.content.decode()
    owner.refresh_from_db()
    assert owner.check_password(PASSWORD)


def test_the_change_needs_a_csrf_token(owner):
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(owner)
    data = {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    assert strict.post(CHANGE, data).status_code == 403
    owner.refresh_from_db()
    assert owner.check_password(PASSWORD)
