"""Shared fixtures: real services in CI, a real Celery worker process, images built in memory."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from django.conf import settings
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
SERVICES_REQUIRED = os.environ.get("BRANDFORGE_TEST_SERVICES") == "required" or os.environ.get("CI") == "true"


def pytest_sessionstart(session: pytest.Session) -> None:
    """In CI the suite runs against PostgreSQL and Redis; their absence fails the run, never skips."""
    if not SERVICES_REQUIRED:
        return
    problems = []
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        problems.append(f"DATABASE_URL does not point at PostgreSQL ({settings.DATABASES['default']['ENGINE']})")
    else:
        import psycopg

        db = settings.DATABASES["default"]
        try:
            psycopg.connect(
                host=db["HOST"], port=db["PORT"] or 5432, user=db["USER"], dbname=db["NAME"], connect_timeout=3
            ).close()
        except psycopg.Error as exc:
            problems.append(f"PostgreSQL is unreachable: {exc}")
    if not settings.CELERY_BROKER_URL.startswith("redis://"):
        problems.append(f"CELERY_BROKER_URL is not Redis ({settings.CELERY_BROKER_URL})")
    else:
        import redis

        try:
            redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_connect_timeout=3).ping()
        except redis.RedisError as exc:
            problems.append(f"Redis is unreachable: {exc}")
    if problems:
        pytest.exit("required services missing: " + "; ".join(problems), returncode=3)


def make_image(
    width: int = 64, height: int = 48, *, fmt: str = "PNG", mode: str = "RGB", seed: int = 0, **params
) -> bytes:
    """A deterministic, content-rich test image (distinct seeds give distinct perceptual hashes)."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)
    base = Image.fromarray(coarse).resize((width, height), Image.BICUBIC)
    image = base.convert(mode) if mode != "RGB" else base
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **params)
    return buffer.getvalue()


@pytest.fixture
def image_bytes() -> Callable[..., bytes]:
    return make_image


def _worker_env(db_name: str) -> dict[str, str]:
    db = settings.DATABASES["default"]
    env = {**os.environ, "BRANDFORGE_VAR_DIR": str(settings.VAR_DIR), "CELERY_BROKER_URL": settings.CELERY_BROKER_URL}
    if db["ENGINE"] == "django.db.backends.postgresql":
        env["DATABASE_URL"] = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT'] or 5432}/{db_name}"
    else:
        env["DATABASE_URL"] = f"sqlite:///{db_name}"
    return env


class WorkerProcess:
    def __init__(self, process: subprocess.Popen, log: Path):
        self.process = process
        self.log = log

    def wait_for(self, check: Callable[[], object], *, timeout: float = 60, what: str = "condition") -> object:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = check()
            if value:
                return value
            if self.process.poll() is not None:
                raise AssertionError(f"worker died (rc {self.process.returncode}):\n{self.log.read_text()[-3000:]}")
            time.sleep(0.2)
        raise AssertionError(f"timed out after {timeout}s waiting for {what}; worker log:\n{self.log.read_text()[-3000:]}")


def start_worker(*, db_name: str, queues: str, log: Path, concurrency: int = 1) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", queues, "-c", str(concurrency),
         "--loglevel", "INFO", "--without-gossip", "--without-mingle", "--without-heartbeat"],
        cwd=ROOT,
        env=_worker_env(db_name),
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop_process(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture(scope="module")
def celery_worker_process(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[WorkerProcess]:
    """A real Celery worker process consuming every queue, against the test database.

    Module-scoped, so tests elsewhere never race a worker that acts on their rows.
    """
    from django.db import connection

    with django_db_blocker.unblock():
        db_name = connection.settings_dict["NAME"]
    from config.celery import app

    app.control.purge()  # messages left by an earlier run would only be noise
    log = tmp_path_factory.mktemp("worker") / "worker.log"
    process = start_worker(db_name=db_name, queues="default,renditions,train,generate", log=log)
    try:
        yield WorkerProcess(process, log)
    finally:
        stop_process(process)


def django_env(db_name: str) -> dict[str, str]:
    """Environment for a manage.py subprocess that must use the test database."""
    return _worker_env(db_name)


def stored_files(prefix: str = "") -> set[str]:
    """Every file name under ``prefix`` in the default storage."""
    from django.core.files.storage import default_storage

    if not default_storage.exists(prefix or "."):
        return set()
    found: set[str] = set()
    pending = [prefix]
    while pending:
        current = pending.pop()
        dirs, files = default_storage.listdir(current)
        base = f"{current}/" if current else ""
        found.update(base + f for f in files)
        pending.extend(base + d for d in dirs)
    return found


@pytest.fixture(autouse=True)
def _empty_media_root():
    """Each test starts and ends with no stored files (the database is emptied the same way)."""
    import shutil

    shutil.rmtree(settings.MEDIA_ROOT, ignore_errors=True)
    yield
    shutil.rmtree(settings.MEDIA_ROOT, ignore_errors=True)


@pytest.fixture(scope="session", autouse=True)
def _signing_keys():
    """The development CA and signer, as provenance_init makes them, shared with worker processes."""
    from provenance.c2pa.keys import create_dev_credentials, credential_paths
    from provenance.conf import key_dir

    if not credential_paths(directory=key_dir()).signer_key.exists():
        create_dev_credentials(directory=key_dir())


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # PBKDF2's deliberate slowness protects real passwords, not test users.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
