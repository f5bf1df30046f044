"""The real processes: a Celery worker prewarms renditions; a killed import loses nothing."""

from __future__ import annotations

import hashlib
import io
import os
import signal
import subprocess
import sys
import time
import zipfile

import pytest
from django.core.files.storage import default_storage
from django.db import connection

from dam.conf import dam_settings
from dam.models import Asset, AssetVersion, PendingFile, Rendition
from dam.services.ingest import ingest_file
from tests.conftest import ROOT, django_env, make_image, stored_files


@pytest.mark.django_db(transaction=True)
def test_worker_prewarms_configured_renditions(celery_worker_process, collection, librarian):
    data = make_image(900, 600, seed=21, fmt="JPEG")
    version = ingest_file(name="p.jpg", fileobj=io.BytesIO(data), collection=collection, user=librarian).version
    expected = len(dam_settings.PREWARM_SPECS)
    celery_worker_process.wait_for(
        lambda: Rendition.objects.filter(version=version).count() == expected, timeout=90, what="prewarmed renditions"
    )
    for rendition in Rendition.objects.filter(version=version):
        assert default_storage.exists(rendition.file.name)


def _run_import(paths, *extra):
    return subprocess.run(
        [sys.executable, "manage.py", "dam_import", *map(str, paths), "--no-progress", *extra],
        cwd=ROOT, env=django_env(connection.settings_dict["NAME"]), capture_output=True, text=True, timeout=300,
    )


@pytest.mark.django_db(transaction=True)
def test_dam_import_summary_names_each_rejected_file(tmp_path):
    folder = tmp_path / "drop"
    folder.mkdir()
    (folder / "good.png").write_bytes(make_image(seed=31))
    (folder / "again.png").write_bytes(make_image(seed=31))
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "tool.png").write_bytes(b"MZ\x90\x00" + b"\x00" * 200)
    archive = tmp_path / "pack.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("inside.png", make_image(seed=32))
        zf.writestr("../escape.png", make_image(seed=33))
    result = _run_import([folder, archive], "--collection", "Drops/November", "--tag", "drop")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Imported 2, duplicates 1, rejected 3 into Drops / November." in out, out
    for name in ("empty.jpg", "tool.png", "escape.png"):
        assert any(name in line and "rejected" in line for line in out.splitlines()), (name, out)
    assert set(Asset.objects.values_list("tags__name", flat=True)) == {"drop"}
    rerun = _run_import([folder, archive], "--collection", "Drops/November")
    assert "Imported 0, duplicates 3, rejected 3" in rerun.stdout


@pytest.mark.django_db(transaction=True)
def test_killed_import_leaves_no_orphans(tmp_path):
    folder = tmp_path / "many"
    folder.mkdir()
    count = 40
    for i in range(count):
        (folder / f"img-{i:03}.png").write_bytes(make_image(700, 500, seed=1000 + i))
    process = subprocess.Popen(
        [sys.executable, "manage.py", "dam_import", str(folder), "--no-progress"],
        cwd=ROOT, env=django_env(connection.settings_dict["NAME"]),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while AssetVersion.objects.count() < 5:
        assert process.poll() is None, "the import ended before it could be killed"
        assert time.monotonic() < deadline, "the import made no progress"
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    imported = AssetVersion.objects.count()
    assert 5 <= imported < count

    # Right after the kill: every row has its complete file, every file is accounted for.
    versions = {v.file.name: v.sha256 for v in AssetVersion.objects.all()}
    for name, sha in versions.items():
        with default_storage.open(name) as handle:
            assert hashlib.sha256(handle.read()).hexdigest() == sha
    journaled = set(PendingFile.objects.values_list("name", flat=True))
    assert stored_files("originals") <= set(versions) | journaled

    # Reconciliation removes whatever the killed process left half-done.
    subprocess.run([sys.executable, "manage.py", "dam_reconcile", "--grace", "0"], cwd=ROOT,
                   env=django_env(connection.settings_dict["NAME"]), check=True, capture_output=True)
    assert not PendingFile.objects.exists()
    assert stored_files("originals") == set(versions)

    # And the import, run again, finishes the job.
    result = _run_import([folder])
    assert f"Imported {count - imported}, duplicates {imported}, rejected 0" in result.stdout
    assert stored_files("originals") == set(AssetVersion.objects.values_list("file", flat=True))


@pytest.mark.django_db(transaction=True)
def test_dam_import_bad_arguments_are_clear_errors(tmp_path):
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match="--user 'nobody': no active user"):
        call_command("dam_import", str(tmp_path), "--user", "nobody", "--no-progress")
    with pytest.raises(CommandError, match="at least one name"):
        call_command("dam_import", str(tmp_path), "--collection", " / ", "--no-progress")
    result = _run_import([tmp_path / "missing-folder"])
    assert "rejected 1" in result.stdout and "missing-folder" in result.stdout
    assert not Asset.objects.exists()
