"""Registering a plugin whose URL is an IP literal in a refused range: 400 on repo_url, nothing written."""

from __future__ import annotations

import pytest

from audit.models import AuditAction, AuditEvent
from credentials.services import credential_create
from plugins.models import Plugin

pytestmark = pytest.mark.django_db


def _token_for(owner, host: str):
    fields = {"token": "t0ken-value", "base_url": f"https://{host}"}
    return credential_create(actor=owner, type_slug="github_pat", name=f"for-{host}", fields=fields)


@pytest.mark.parametrize(
    ("host", "url_host", "reason"),
    [
        ("169.254.169.254", "169.254.169.254", "a link-local address"),
        ("10.0.0.7", "10.0.0.7", "a private-network address"),
        ("fd00:ec2::254", "[fd00:ec2::254]", "a cloud metadata address"),
        ("::ffff:a9fe:a9fe", "[::ffff:169.254.169.254]", "a link-local address"),
    ],
)
def test_a_refused_ip_literal_is_a_400_on_repo_url(api_client, owner, host, url_host, reason):
    credential = _token_for(owner, url_host)
    response = api_client.post(
        "/api/plugins/",
        {"name": "tools", "repo_url": f"https://{url_host}/org/tools.git", "credential": str(credential.pk)},
        format="json",
    )
    assert response.status_code == 400, response.json()
    errors = response.json()["errors"]
    assert list(errors) == ["repo_url"]
    assert reason in errors["repo_url"][0]
    assert not Plugin.objects.exists()
    assert not AuditEvent.objects.filter(action=AuditAction.PLUGIN_LINKED).exists()


def test_loopback_is_refused_when_no_network_is_listed(api_client, owner, settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    credential = _token_for(owner, "127.0.0.1")
    response = api_client.post(
        "/api/plugins/",
        {"name": "tools", "repo_url": "ssh://git@127.0.0.1:2222/org/tools.git", "credential": str(credential.pk)},
        format="json",
    )
    assert response.status_code == 400
    assert "127.0.0.1 is a loopback address" in response.json()["errors"]["repo_url"][0]


def test_a_host_name_is_judged_when_it_is_used_not_when_registered(api_client, owner, settings):
    """Names are resolved at each sync, where the address connected to is the one judged."""
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    credential = _token_for(owner, "localhost")
    response = api_client.post(
        "/api/plugins/",
        {"name": "tools", "repo_url": "https://localhost/org/tools.git", "credential": str(credential.pk)},
        format="json",
    )
    assert response.status_code == 202, response.json()
