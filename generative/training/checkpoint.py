"""Checkpoint files: written atomically, loaded with ``weights_only=True``.

A checkpoint is a dict of tensors, numbers, strings and plain containers only (no pickled modules),
so loading one runs no code. The training position (step, images seen) is read from the content,
never from the file name; the name only orders files.
"""

from __future__ import annotations

import os
import pickle
import tempfile
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any, BinaryIO

import torch

CHECKPOINT_FORMAT = 1
_PREFIX, _SUFFIX = "ckpt-", ".pt"


class CheckpointError(RuntimeError):
    """A checkpoint that is missing, unreadable or of another format."""


def code_version() -> str:
    try:
        package = metadata.version("brandforge")
    except metadata.PackageNotFoundError:
        package = "unknown"
    return f"brandforge {package}; checkpoint format {CHECKPOINT_FORMAT}"


def checkpoint_dir(run_dir: Path) -> Path:
    return Path(run_dir) / "checkpoints"


def checkpoint_name(nimg: int) -> str:
    return f"{_PREFIX}{nimg:012d}{_SUFFIX}"


def _fsync_dir(path: Path) -> None:
    # Makes the rename itself durable; not all platforms allow opening a directory.
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomically(path: Path, write: Callable[[BinaryIO], None]) -> None:
    """Call ``write`` on a temporary file beside ``path``, fsync, then rename it over ``path``.

    A crash at any point leaves either the old file or the new one, never a torn file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def atomic_save(obj: Any, path: Path) -> None:
    """torch.save, atomically (:func:`write_atomically`)."""
    write_atomically(path, lambda fh: torch.save(obj, fh))


def save_checkpoint(state: dict[str, Any], *, run_dir: Path, keep: int) -> Path:
    """Write `state` as the newest checkpoint of the run and prune all but the `keep` newest."""
    directory = checkpoint_dir(run_dir)
    path = directory / checkpoint_name(int(state["counters"]["nimg"]))
    atomic_save({**state, "format": CHECKPOINT_FORMAT, "code_version": code_version()}, path)
    for old in list_checkpoints(run_dir)[:-keep]:
        old.unlink(missing_ok=True)
    return path


def list_checkpoints(run_dir: Path) -> list[Path]:
    directory = checkpoint_dir(run_dir)
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if p.name.startswith(_PREFIX) and p.name.endswith(_SUFFIX))


def latest_checkpoint(run_dir: Path) -> Path:
    found = list_checkpoints(run_dir)
    if not found:
        raise CheckpointError(f"run directory {run_dir} has no checkpoints under {checkpoint_dir(run_dir)}")
    return found[-1]


def load_checkpoint(path: Path, *, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    try:
        state = torch.load(Path(path), map_location=map_location, weights_only=True)
    except (OSError, RuntimeError, EOFError, pickle.UnpicklingError) as exc:
        raise CheckpointError(f"checkpoint {path} cannot be read: {exc}") from exc
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        found = state.get("format") if isinstance(state, dict) else type(state).__name__
        raise CheckpointError(f"checkpoint {path} has format {found!r}; this code reads {CHECKPOINT_FORMAT}")
    return state
