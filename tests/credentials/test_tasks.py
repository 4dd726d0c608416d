"""The Celery app: in-process without a broker (the embedded default), the broker's URL otherwise; tasks by name."""

import os
import subprocess
import sys
from pathlib import Path

from audit import tasks as audit_tasks
from config.celery import app
from credentials import tasks

ROOT = Path(__file__).resolve().parents[2]


def _conf_in_a_fresh_process(tmp_path, **env) -> str:
    environment = {k: v for k, v in os.environ.items() if k not in ("CELERY_BROKER_URL", "DATABASE_URL")}
    environment.update(DEBUG="1", LATCHKEY_DEV_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="config.settings", **env)
    code = (
        "import django; django.setup(); from config.celery import app; "
        "print(app.conf.task_always_eager, app.conf.task_acks_late, app.conf.task_ignore_result)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.split("\n")[-2]


def test_without_a_broker_tasks_run_in_process(tmp_path):
    assert _conf_in_a_fresh_process(tmp_path) == "True True True"


def test_with_a_broker_tasks_are_sent_to_it(tmp_path):
    assert _conf_in_a_fresh_process(tmp_path, CELERY_BROKER_URL="redis://127.0.0.1:6379/9") == "False True True"


def test_the_tasks_and_the_beat_schedule_name_each_other():
    app.loader.import_default_modules()  # every app's tasks module, as a worker imports them at start
    registered = set(app.tasks)
    for entry in app.conf.beat_schedule.values():
        assert entry["task"] in registered
    assert tasks.credential_test_task.name == "credentials.test"
    assert (audit_tasks.audit_seal_task.name, audit_tasks.audit_checkpoint_task.name) == (
        "audit.seal",
        "audit.checkpoint",
    )
    assert tasks.credential_test_task.acks_late is True
