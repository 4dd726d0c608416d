"""The lockout page says how long it lasts (AXES_COOLOFF_TIME) and what to do."""

from datetime import timedelta

from django.urls import reverse

from tests.factories import PASSWORD


def test_the_lockout_page_says_how_long_and_what_to_do(client, owner, settings):
    settings.AXES_FAILURE_LIMIT = 2
    settings.AXES_COOLOFF_TIME = timedelta(minutes=45)
    for _ in range(2):
        client.post(reverse("login"), {"username": "owner", "password": "wrong"})
    locked = client.post(reverse("login"), {"username": "owner", "password": PASSWORD})
    assert locked.status_code == 429
    assert locked["Retry-After"] == str(45 * 60)
    page = locked.content.decode()
    assert "Try again in 45 minutes." in page
    assert "Wait 45 minutes" in page
    assert "manage.py axes_reset_username" in page


def test_one_minute_is_said_in_the_singular(client, owner, settings):
    settings.AXES_FAILURE_LIMIT = 1
    settings.AXES_COOLOFF_TIME = timedelta(minutes=1)
    client.post(reverse("login"), {"username": "owner", "password": "wrong"})
    page = client.post(reverse("login"), {"username": "owner", "password": PASSWORD}).content.decode()
    assert "Try again in 1 minute." in page and "Wait 1 minute," in page
