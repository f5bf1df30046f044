"""The README's first command, end to end, on the embedded defaults (SQLite, filesystem broker)."""

from __future__ import annotations

import os
import re
import signal
import socket
import sqlite3
import subprocess
import time
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path

from tests.conftest import ROOT


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _count(db: Path, sql: str) -> int:
    with sqlite3.connect(db, timeout=30) as conn:
        return conn.execute(sql).fetchone()[0]


def test_demo_command_serves_the_sample_library_with_a_worker(tmp_path):
    var = tmp_path / "var"
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND"}}
    port = _free_port()
    env.update(BRANDFORGE_VAR_DIR=str(var), PORT=str(port))
    log = tmp_path / "demo.log"
    process = subprocess.Popen(
        ["bin/demo"], cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 300
        while "is running at" not in log.read_text():
            assert process.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.5)
        text = log.read_text()
        password = re.search(r"Login: librarian / (\S+)", text).group(1)
        assert f"http://127.0.0.1:{port}/admin/" in text

        db = var / "brandforge.sqlite3"
        assets = _count(db, "SELECT count(*) FROM dam_asset")
        assert assets >= 15
        assert _count(db, "SELECT count(*) FROM dam_assetversion WHERE near_duplicate_of_id IS NOT NULL") >= 1
        # The worker (filesystem broker) prewarms two renditions of every asset.
        while _count(db, "SELECT count(*) FROM dam_rendition") < assets * 2:
            assert time.monotonic() < deadline, (var / "log" / "worker.log").read_text()[-3000:]
            time.sleep(1)

        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
        base = f"http://127.0.0.1:{port}"
        for _ in range(60):
            try:
                login_page = opener.open(f"{base}/admin/login/").read().decode()
                break
            except OSError:
                time.sleep(0.5)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login_page).group(1)
        data = f"csrfmiddlewaretoken={token}&username=librarian&password={password}&next=/admin/dam/asset/"
        request = urllib.request.Request(f"{base}/admin/login/", data=data.encode(), headers={"Referer": base})
        changelist = opener.open(request).read().decode()
        thumbs = re.findall(r'src="(/dam/renditions/[^"]+)"', changelist)
        assert len(thumbs) >= 15, changelist[:2000]
        response = opener.open(base + thumbs[0])
        assert response.headers["Content-Type"] == "image/webp"
    finally:
        # As Ctrl-C would: the script's trap stops the web server and the worker.
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            raise
        time.sleep(1)
        leftovers = subprocess.run(["pgrep", "-f", str(var)], capture_output=True, text=True).stdout.split()
        assert not leftovers, "the demo left processes running"
