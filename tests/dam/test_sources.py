"""iter_sources: files, folders and zip archives expanded lazily and safely; bad entries reported, never lost."""

from __future__ import annotations

import io
import os
import stat
import zipfile

import pytest
from PIL import Image

from dam.ingest import IngestLimits, RejectedFile, inspect_file
from dam.ingest.sources import iter_sources

LIMITS = IngestLimits()


def _png(colour: str = "red") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), colour).save(buf, "PNG")
    return buf.getvalue()


def _outcomes(paths, limits: IngestLimits = LIMITS) -> dict[str, bytes | str]:
    """name -> bytes read, or the rejection code."""
    out: dict[str, bytes | str] = {}
    for name, opener in iter_sources(paths=paths, limits=limits):
        try:
            with opener() as handle:
                out[name] = handle.read()
        except RejectedFile as exc:
            assert exc.name == name and str(exc).startswith(name + ": ")
            out[name] = exc.code
    return out


def _zip(path, members: dict[str, bytes], *, mutate=None) -> str:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            if mutate:
                mutate(info)
            zf.writestr(info, data)
    return str(path)


def test_files_and_folders_in_sorted_order_without_clutter(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "z.png").write_bytes(_png("blue"))
    (tmp_path / "b" / "a.png").write_bytes(_png("red"))
    (tmp_path / "b" / ".DS_Store").write_bytes(b"junk")
    (tmp_path / "b" / "__MACOSX").mkdir()
    (tmp_path / "b" / "__MACOSX" / "._a.png").write_bytes(b"junk")
    single = tmp_path / "one.png"
    single.write_bytes(_png("green"))
    out = _outcomes([single, tmp_path / "b"])
    names = list(out)
    assert names == [str(single), str(tmp_path / "b" / "a.png"), str(tmp_path / "b" / "z.png")]
    assert out[str(single)] == _png("green")


def test_missing_path_and_special_files_are_reported(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)  # opening it would block: it must be refused from its mode alone
    out = _outcomes([tmp_path / "nope.jpg", fifo, tmp_path])
    assert out[str(tmp_path / "nope.jpg")] == "not_found"
    assert out[str(fifo)] == "not_regular_file"
    assert out[str(tmp_path / "pipe")] == "not_regular_file"


def test_symlinks_inside_folders_are_refused_but_named_ones_followed(tmp_path):
    secret = tmp_path / "secret.png"
    secret.write_bytes(_png())
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "link.png").symlink_to(secret)
    (folder / "linkdir").symlink_to(tmp_path)
    out = _outcomes([folder, folder / "link.png"])
    assert out[str(folder / "link.png")] == _png()  # named on the command line: the user chose it
    walked = _outcomes([folder])
    assert walked == {str(folder / "link.png"): "symlink", str(folder / "linkdir"): "symlink"}


def test_zip_members_are_yielded_and_readable_after_iteration(tmp_path):
    archive = _zip(tmp_path / "pack.zip", {"logos/a.png": _png("red"), "b.png": _png("blue"), "dir/": b""})
    sources = list(iter_sources(paths=[archive], limits=LIMITS))  # the generator is finished here
    assert [s.name for s in sources] == [f"{archive}/logos/a.png", f"{archive}/b.png"]
    with sources[1].opener() as handle:
        result = inspect_file(name=sources[1].name, fileobj=handle, limits=LIMITS)
    assert result.palette[0]["hex"] == "#0000ff"


@pytest.mark.parametrize(("member", "code"), [
    ("../evil.png", "archive_unsafe_name"),
    ("a/../../evil.png", "archive_unsafe_name"),
    ("..\\evil.png", "archive_unsafe_name"),
    ("/etc/evil.png", "archive_unsafe_name"),
    ("C:/evil.png", "archive_unsafe_name"),
    ("evil\x01.png", "archive_unsafe_name"),
])
def test_zip_path_traversal_is_refused_and_the_batch_carries_on(tmp_path, member, code):
    archive = _zip(tmp_path / "t.zip", {member: _png(), "good.png": _png()})
    out = _outcomes([archive])
    assert len(out) == 2
    bad = next(name for name in out if not name.endswith("/good.png"))
    assert out[bad] == code
    assert out[f"{archive}/good.png"] == _png()


def test_zip_symlink_member_is_refused(tmp_path):
    def as_symlink(info):
        info.create_system = 3
        info.external_attr = (stat.S_IFLNK | 0o777) << 16

    archive = _zip(tmp_path / "l.zip", {"link.png": b"/etc/passwd"}, mutate=as_symlink)
    assert _outcomes([archive]) == {f"{archive}/link.png": "symlink"}


def test_zip_encrypted_member_is_refused(tmp_path):
    _zip(tmp_path / "e.zip", {"x.png": _png()})
    raw = bytearray((tmp_path / "e.zip").read_bytes())
    # zipfile cannot write encrypted members: set the "encrypted" flag in both headers by hand.
    for signature, flag_offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = raw.index(signature) + flag_offset
        raw[at] |= 0x1
    (tmp_path / "e.zip").write_bytes(bytes(raw))
    assert _outcomes([tmp_path / "e.zip"]) == {f"{tmp_path / 'e.zip'}/x.png": "archive_encrypted"}


def test_zip_duplicate_member_names_are_refused(tmp_path):
    archive = _zip(tmp_path / "d.zip", {"x.png": _png()})
    with pytest.warns(UserWarning, match="Duplicate name"), zipfile.ZipFile(archive, "a") as zf:
        zf.writestr("x.png", _png("blue"))
    (first, first_opener), (second, second_opener) = iter_sources(paths=[archive], limits=LIMITS)
    assert first == second == f"{archive}/x.png"
    assert first_opener().read() == _png()
    with pytest.raises(RejectedFile, match="more than once"):
        second_opener()


def test_zip_bomb_by_ratio_is_refused(tmp_path):
    archive = _zip(tmp_path / "bomb.zip", {"zeros.tif": bytes(4 * 1024 * 1024), "ok.png": _png()})
    out = _outcomes([archive], IngestLimits(ratio_floor_bytes=1024 * 1024, max_compression_ratio=100))
    assert out[f"{archive}/zeros.tif"] == "archive_bomb"
    assert out[f"{archive}/ok.png"] == _png()


def test_zip_bomb_by_total_size_and_member_count(tmp_path):
    archive = _zip(tmp_path / "big.zip", {f"{i}.png": bytes(300_000) for i in range(5)})
    assert _outcomes([archive], IngestLimits(max_archive_bytes=1_000_000)) == {archive: "archive_bomb"}
    assert _outcomes([archive], IngestLimits(max_archive_members=3)) == {archive: "archive_too_many_members"}
    out = _outcomes([archive], IngestLimits(max_bytes=200_000))
    assert set(out.values()) == {"too_large"}


def test_corrupt_archive_and_corrupt_member(tmp_path):
    fake = tmp_path / "fake.zip"
    fake.write_bytes(b"this is not a zip")
    archive = _zip(tmp_path / "crc.zip", {"a.png": _png("red") * 50, "b.png": _png("blue")})
    raw = bytearray((tmp_path / "crc.zip").read_bytes())
    raw[60] ^= 0xFF  # inside a.png's compressed data
    (tmp_path / "crc.zip").write_bytes(bytes(raw))
    out = _outcomes([fake, archive])
    assert out[str(fake)] == "archive_invalid"
    assert out[f"{archive}/a.png"] == "archive_member_corrupt"
    assert out[f"{archive}/b.png"] == _png("blue")


def test_nested_archives_are_not_expanded(tmp_path):
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as zf:
        zf.writestr("deep.png", _png())
    archive = _zip(tmp_path / "outer.zip", {"inner.zip": inner.getvalue()})
    (name, opener), = iter_sources(paths=[archive], limits=LIMITS)
    with opener() as handle, pytest.raises(RejectedFile) as info:
        inspect_file(name=name, fileobj=handle, limits=LIMITS)
    assert info.value.code == "mime_not_allowed" and "ZIP archive" in info.value.reason
