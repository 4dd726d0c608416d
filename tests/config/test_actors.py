"""The acting user at a face's boundary: a signed-in user passes, anyone else is refused."""

import pytest
from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import PermissionDenied

from config.actors import signed_in


def test_signed_in_hands_on_a_signed_in_user():
    user = User(username="someone")
    assert signed_in(user) is user


def test_signed_in_refuses_an_anonymous_caller():
    with pytest.raises(PermissionDenied):
        signed_in(AnonymousUser())
