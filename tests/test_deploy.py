"""docker-compose.yml is for users (no Docker engine here): check that what it names exists."""

from __future__ import annotations

import importlib
import re
import shlex
from pathlib import Path

import pytest
import yaml
from django.core.management import get_commands

from config.celery import QUEUES

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
APP_SERVICES = ["web", "worker", "train-worker", "beat"]
SETTINGS_SOURCE = (ROOT / "config" / "settings.py").read_text() + (ROOT / "config" / "env.py").read_text()


def _commands(service: str) -> list[list[str]]:
    command = COMPOSE["services"][service]["command"]
    text = command if isinstance(command, str) else shlex.join(command)
    text = re.sub(r'^sh -c "(.*)"$', r"\1", text.strip(), flags=re.S)
    return [shlex.split(part) for part in text.split("&&")]


def test_every_service_has_healthcheck_or_is_beat():
    for name, service in COMPOSE["services"].items():
        if name != "beat":
            assert "healthcheck" in service, f"{name} has no healthcheck"


@pytest.mark.parametrize("service", APP_SERVICES)
def test_commands_name_things_that_exist(service):
    known_commands = get_commands()
    for argv in _commands(service):
        if argv[:3] == ["python", "manage.py", argv[2]]:
            assert argv[2] in known_commands, f"{service}: manage.py {argv[2]} does not exist"
        elif argv[0] == "gunicorn":
            module, attr = argv[1].split(":")
            assert hasattr(importlib.import_module(module), attr), f"{service}: {argv[1]} not importable"
        elif argv[0] == "celery":
            assert argv[1:3] == ["-A", "config"]
            assert importlib.import_module("config").celery_app is not None
            assert argv[3] in {"worker", "beat"}
            if "-Q" in argv:
                queues = argv[argv.index("-Q") + 1].split(",")
                assert set(queues) <= set(QUEUES), f"{service}: unknown queues {set(queues) - set(QUEUES)}"
        else:
            pytest.fail(f"{service}: unexpected command {argv}")


def test_workers_together_consume_every_queue():
    consumed = set()
    for service in ("worker", "train-worker"):
        for argv in _commands(service):
            consumed |= set(argv[argv.index("-Q") + 1].split(","))
    assert consumed == set(QUEUES)


def test_environment_names_are_settings_we_read():
    env = COMPOSE["x-app"]["environment"]
    for name in env:
        assert f'"{name}"' in SETTINGS_SOURCE, f"{name} is set in docker-compose.yml but never read"


def test_volumes_declared():
    declared = set(COMPOSE["volumes"])
    for name, service in COMPOSE["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if not source.startswith(("/", ".")):
                assert source in declared, f"{name} uses undeclared volume {source}"


def test_beat_schedule_tasks_exist():
    from config.celery import app

    app.loader.import_default_modules()
    for entry in app.conf.beat_schedule.values():
        assert entry["task"] in app.tasks, f"beat schedules unknown task {entry['task']}"
