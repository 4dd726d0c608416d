"""Appends from several processes at once never wait on each other, and the trail they make verifies,
also while they write: verification reads one snapshot and raises no false alarm."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from audit.models import AuditEvent
from audit.sealing import audit_seal
from audit.verification import audit_verify_chain

ROOT = Path(__file__).resolve().parents[2]
PROCESSES = 4
EACH = 150

pytestmark = pytest.mark.integration


@pytest.mark.django_db(transaction=True)
def test_appends_from_several_processes_verify_while_they_run(test_database_url):
    env = {**os.environ, "DATABASE_URL": test_database_url, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    appenders = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.integration.audit_appender", str(EACH), str(n)], cwd=ROOT, env=env
        )
        for n in range(PROCESSES)
    ]
    verified_while_running = []
    try:
        while any(process.poll() is None for process in appenders):
            audit_seal()
            report = audit_verify_chain(find_all=True)
            assert report.ok, report.breaks
            verified_while_running.append(report.checked)
    finally:
        for process in appenders:
            process.wait(timeout=120)
    assert [process.returncode for process in appenders] == [0] * PROCESSES
    assert len(verified_while_running) > 1 and verified_while_running[0] < PROCESSES * EACH
    audit_seal()
    report = audit_verify_chain(find_all=True)
    assert report.ok, report.breaks
    assert report.checked == report.linked == AuditEvent.objects.count() == PROCESSES * EACH
