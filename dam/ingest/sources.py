"""Expanding ``dam_import PATH...`` into files to inspect: files, folders (recursively) and .zip archives.

Every entry comes out as a ``Source(name, opener)``, lazily, in a stable (sorted) order. Anything that
cannot be imported still comes out, with an opener that raises ``RejectedFile``, so a batch reports
it and carries on: nothing is dropped silently except editor and OS clutter (dot files, __MACOSX/,
Thumbs.db, desktop.ini).

Safety rules:
* paths named on the command line are followed even when they are symlinks (the user chose them);
  symlinks met while walking a folder are refused, and walked files are opened with O_NOFOLLOW;
* archives are read in memory, never extracted to disk; still, members with absolute names, ``..``
  components, NUL or control characters, duplicate names, symlink modes or encryption are refused;
* zip bombs: archives with too many members or too many declared bytes are refused whole; a member
  over ``max_bytes`` or, above ``ratio_floor_bytes``, over ``max_compression_ratio`` is refused. The
  declared sizes can be trusted as upper bounds because ``zipfile`` stops reading at the declared
  size and then fails the CRC check;
* archives inside archives are not expanded (inspection refuses them as ZIP content).
"""

from __future__ import annotations

import io
import lzma
import os
import re
import stat
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from typing import BinaryIO, NamedTuple

from dam.ingest.errors import RejectedFile
from dam.ingest.limits import IngestLimits

_CLUTTER = {"__MACOSX", "Thumbs.db", "desktop.ini"}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, lzma.LZMAError, NotImplementedError, RuntimeError, EOFError,
               OSError, ValueError)


class Source(NamedTuple):
    name: str  # for messages and as the asset's original file name
    opener: Callable[[], BinaryIO]  # returns a readable binary stream, or raises RejectedFile


def iter_sources(*, paths: Iterable[str | os.PathLike[str]], limits: IngestLimits) -> Iterator[Source]:
    for raw in paths:
        path = os.fspath(raw)
        try:
            st = os.stat(path)
        except FileNotFoundError:
            yield _refused(path, "not_found", "no such file or folder")
            continue
        except OSError as exc:
            yield _refused(path, "unreadable", f"cannot be read ({exc.strerror or exc})")
            continue
        if stat.S_ISDIR(st.st_mode):
            yield from _walk(path, limits=limits)
        elif stat.S_ISREG(st.st_mode):
            yield from _file_or_archive(path, display=path, limits=limits, nofollow=False)
        else:
            yield _refused(path, "not_regular_file", "is not a regular file (device, pipe or socket)")


def _refused(name: str, code: str, reason: str) -> Source:
    def opener() -> BinaryIO:
        raise RejectedFile(name=name, code=code, reason=reason)

    return Source(name, opener)


def _is_clutter(name: str) -> bool:
    parts = re.split(r"[\\/]", name)
    return any(p in _CLUTTER for p in parts) or parts[-1].startswith(".")


def _walk(root: str, *, limits: IngestLimits) -> Iterator[Source]:
    errors: list[OSError] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False, onerror=errors.append):
        while errors:
            exc = errors.pop()
            yield _refused(exc.filename or dirpath, "unreadable", f"folder cannot be listed ({exc.strerror or exc})")
        kept = []
        for d in sorted(dirnames):
            full = os.path.join(dirpath, d)
            if _is_clutter(d):
                continue
            if os.path.islink(full):
                yield _refused(full, "symlink", "is a symbolic link; links inside folders are not followed")
            else:
                kept.append(d)
        dirnames[:] = kept
        for f in sorted(filenames):
            if _is_clutter(f):
                continue
            full = os.path.join(dirpath, f)
            try:
                st = os.lstat(full)
            except OSError as exc:
                yield _refused(full, "unreadable", f"cannot be read ({exc.strerror or exc})")
                continue
            if stat.S_ISLNK(st.st_mode):
                yield _refused(full, "symlink", "is a symbolic link; links inside folders are not followed")
            elif not stat.S_ISREG(st.st_mode):
                yield _refused(full, "not_regular_file", "is not a regular file (device, pipe or socket)")
            else:
                yield from _file_or_archive(full, display=full, limits=limits, nofollow=True)
    while errors:
        exc = errors.pop()
        yield _refused(exc.filename or root, "unreadable", f"folder cannot be listed ({exc.strerror or exc})")


def _file_or_archive(path: str, *, display: str, limits: IngestLimits, nofollow: bool) -> Iterator[Source]:
    if path.lower().endswith(".zip"):
        yield from _zip_members(path, display=display, limits=limits)
    else:
        yield Source(display, partial(_open_file, path, display=display, nofollow=nofollow))


def _open_file(path: str, *, display: str, nofollow: bool) -> BinaryIO:
    flags = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | (getattr(os, "O_NOFOLLOW", 0) if nofollow else 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        code = "symlink" if nofollow and os.path.islink(path) else "unreadable"
        raise RejectedFile(name=display, code=code, reason=f"cannot be opened ({exc.strerror or exc})") from exc
    fileobj = os.fdopen(fd, "rb")
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        fileobj.close()
        raise RejectedFile(name=display, code="not_regular_file", reason="is not a regular file")
    return fileobj


class _Archive:
    """The open ZipFile while the generator walks it; an opener called later reopens the file."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.zf: zipfile.ZipFile | None = None

    def read(self, info: zipfile.ZipInfo, *, display: str, limits: IngestLimits) -> BinaryIO:
        try:
            if self.zf is not None:
                return self._read(self.zf, info, display=display, limits=limits)
            with zipfile.ZipFile(self.path) as zf:
                return self._read(zf, info, display=display, limits=limits)
        except RejectedFile:
            raise
        except _ZIP_ERRORS as exc:
            raise RejectedFile(name=display, code="archive_member_corrupt",
                               reason=f"the archive member cannot be extracted ({exc})") from exc

    @staticmethod
    def _read(zf: zipfile.ZipFile, info: zipfile.ZipInfo, *, display: str, limits: IngestLimits) -> BinaryIO:
        with zf.open(info) as member:
            data = member.read(limits.max_bytes + 1)
        if len(data) > limits.max_bytes:
            raise RejectedFile(name=display, code="too_large", reason=f"exceeds the {limits.max_bytes}-byte limit")
        return io.BytesIO(data)


def _zip_members(path: str, *, display: str, limits: IngestLimits) -> Iterator[Source]:
    try:
        zf = zipfile.ZipFile(path)
    except _ZIP_ERRORS as exc:
        yield _refused(display, "archive_invalid", f"is not a readable ZIP archive ({exc})")
        return
    archive = _Archive(path)
    with zf:
        infos = zf.infolist()
        if len(infos) > limits.max_archive_members:
            yield _refused(display, "archive_too_many_members",
                           f"holds {len(infos)} entries, over the limit of {limits.max_archive_members}")
            return
        declared = sum(info.file_size for info in infos)
        if declared > limits.max_archive_bytes:
            yield _refused(display, "archive_bomb", f"would expand to {declared} bytes, over the "
                                                    f"{limits.max_archive_bytes}-byte limit (zip bomb?)")
            return
        archive.zf = zf
        seen: set[str] = set()
        try:
            for info in infos:
                member = f"{display}/{_CONTROL.sub('?', info.orig_filename)}"
                problem = _member_problem(info, limits=limits, seen=seen)
                if problem:
                    yield _refused(member, *problem)
                elif not info.is_dir() and not _is_clutter(info.filename):
                    yield Source(member, partial(archive.read, info, display=member, limits=limits))
        finally:
            archive.zf = None


def _member_problem(info: zipfile.ZipInfo, *, limits: IngestLimits, seen: set[str]) -> tuple[str, str] | None:
    name = info.orig_filename
    if _CONTROL.search(name):
        return "archive_unsafe_name", "the member name contains NUL or control characters"
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        return "archive_unsafe_name", "the member name is an absolute path"
    if ".." in re.split(r"[\\/]", name):
        return "archive_unsafe_name", "the member name climbs out of the archive with '..'"
    if name in seen:
        return "archive_unsafe_name", "the member name appears more than once in the archive"
    seen.add(name)
    if info.create_system == 3 and stat.S_ISLNK(info.external_attr >> 16):
        return "symlink", "the archive member is a symbolic link"
    if info.is_dir():
        return None
    if info.flag_bits & 0x1:
        return "archive_encrypted", "the archive member is encrypted"
    if info.file_size > limits.max_bytes:
        return "too_large", f"expands to {info.file_size} bytes, over the {limits.max_bytes}-byte limit"
    ratio = info.file_size / max(info.compress_size, 1)
    if info.file_size > limits.ratio_floor_bytes and ratio > limits.max_compression_ratio:
        return "archive_bomb", (f"compresses {ratio:.0f}:1, over the {limits.max_compression_ratio:.0f}:1 "
                                "limit (zip bomb?)")
    return None
