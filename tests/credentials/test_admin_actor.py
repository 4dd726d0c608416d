"""The admin's forms act as the signed-in user, from the client's address: each write's audit event says so."""

from __future__ import annotations

import pytest
from django import forms
from django.contrib.auth.models import Group
from django.test import RequestFactory
from django.urls import reverse

from audit.models import AuditAction, AuditEvent
from config.admin_actor import ActorForm, form_for_request
from tests.factories import make_credential, make_user, valid_fields
from tests.form_data import add_data

pytestmark = pytest.mark.django_db

CLIENT = "198.51.100.9"
# One trusted proxy: the client's address is the last X-Forwarded-For entry, not the proxy's REMOTE_ADDR,
# so these tests also show that the address is config.addresses.client_ip's answer.
BEHIND_PROXY = {"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": CLIENT}


@pytest.fixture(autouse=True)
def one_proxy(settings):
    settings.TRUSTED_PROXY_COUNT = 1


@pytest.fixture
def staff_client(client, superuser):
    client.force_login(superuser)
    return client


class _Form(ActorForm, forms.Form):
    def __init__(self, *args, label: str, **kwargs):
        self.label = label
        super().__init__(*args, **kwargs)


def test_form_for_request_passes_the_user_the_address_and_extra_arguments(superuser):
    request = RequestFactory().post("/", **BEHIND_PROXY)
    request.user = superuser
    form_class = form_for_request(_Form, request, label="extra")
    assert issubclass(form_class, _Form) and form_class.__name__ == "_Form"
    form = form_class({"x": "1"})
    assert (form.actor, form.ip, form.label, form.data) == (superuser, CLIENT, "extra", {"x": "1"})


def test_an_actor_form_without_an_actor_fails_at_once():
    with pytest.raises(TypeError, match="actor"):
        _Form(label="no actor", ip=None)


def test_adding_a_credential_records_the_actor_and_address(staff_client, superuser):
    data = add_data("github_pat", valid_fields("github_pat", "ghp_admin-actor-test"))
    response = staff_client.post(f"{reverse('admin:credentials_credential_add')}?type=github_pat", data, **BEHIND_PROXY)
    assert response.status_code == 302
    event = AuditEvent.objects.get(action=AuditAction.CREATED, credential_name=data["name"])
    assert (event.actor, event.ip) == (superuser, CLIENT)


@pytest.mark.parametrize("kind", ["user", "group"])
def test_sharing_records_the_actor_and_address(staff_client, superuser, owner, kind):
    credential = make_credential(owner, "github_pat", name="shared-with-address")
    make_user("friend") if kind == "user" else Group.objects.create(name="readers")
    url = f"/admin/credentials/credential/{credential.pk}/shares/"
    named = {"user": "friend"} if kind == "user" else {"group": "readers"}
    assert staff_client.post(url, {**named, "permissions": ["use"]}, **BEHIND_PROXY).status_code == 302
    event = AuditEvent.objects.get(action=AuditAction.SHARED, credential_ref=str(credential.pk))
    assert (event.actor, event.ip) == (superuser, CLIENT)
