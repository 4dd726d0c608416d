"""manage.py credentials_report: expired, expiring, failing and never-tested credentials, as a table or JSON."""

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from credentials.models import Credential
from credentials.services import credential_update
from tests.factories import make_credential


def report(*args: str) -> str:
    out = StringIO()
    call_command("credentials_report", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def population(owner, settings):
    settings.CREDENTIAL_TEST_FLAG_AFTER = 3
    now = timezone.now()
    soon = make_credential(owner, name="soon", expires_at=now + timedelta(days=5))
    later = make_credential(owner, name="later", expires_at=now + timedelta(days=60))
    expired = make_credential(owner, name="expired", expires_at=now + timedelta(days=1))
    failing = make_credential(owner, name="failing")
    passing = make_credential(owner, name="passing")
    switched_off = make_credential(owner, name="switched-off", expires_at=now + timedelta(days=1))
    Credential.objects.filter(pk=expired.pk).update(expires_at=now - timedelta(days=1))
    Credential.objects.filter(pk=switched_off.pk).update(expires_at=now - timedelta(days=1))
    credential_update(actor=owner, credential_id=switched_off.pk, changes={"is_active": False})
    Credential.objects.filter(pk=failing.pk).update(
        test_status="failed", test_failures=4, last_tested=now, test_message="refused: ***"
    )
    Credential.objects.filter(pk=passing.pk).update(test_status="passed", last_tested=now)
    Credential.objects.filter(pk__in=[soon.pk, later.pk, expired.pk]).update(test_status="passed", last_tested=now)
    return {"soon": soon, "later": later, "failing": failing}


def test_json_lists_each_section(population):
    data = json.loads(report("--format", "json", "--days", "30"))

    assert data["days"] == 30
    assert [row["name"] for row in data["expired"]] == ["expired"]
    assert [row["name"] for row in data["expiring"]] == ["soon"]
    assert [row["name"] for row in data["failing"]] == ["failing"]
    assert data["failing"][0]["flagged"] is True and data["failing"][0]["test_message"] == "refused: ***"
    assert data["never_tested"] == []


def test_a_wider_window_takes_later_expiries(population):
    data = json.loads(report("--format", "json", "--days", "90"))
    assert [row["name"] for row in data["expiring"]] == ["soon", "later"]


def test_the_table_names_each_section_and_flags_failures(population, owner):
    make_credential(owner, name="untested")

    text = report()

    assert "Expired: 1" in text and "Expiring within 30 days: 1" in text
    assert "Failing their last test: 1" in text and "4 (flagged)" in text
    assert "Never tested: 1" in text and "untested" in text
    assert "switched-off" not in text


def test_bad_days_are_refused(db):
    with pytest.raises(CommandError, match="--days must be between"):
        report("--days", "-1")
