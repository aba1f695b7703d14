"""Fetching the official archives (with ``pooch``) and extracting them safely.

``download=True`` on a loader calls ``download_missing``: each archive whose folder is
missing is fetched once into ``data_home()/"downloads"`` (cached, checksummed where the hash
is known) and unpacked by ``safe_extract``, our own extractor for zip and tar that refuses
any member that could write outside the target folder: absolute paths, ``..`` components,
symlinks or hardlinks pointing outside, and device files. Extraction goes to a temporary
folder beside the target and is renamed into place at the end, so an interrupted or refused
extraction leaves nothing half-written.

Offline (or on any download error), ``fetch`` raises ``DownloadError`` with one
sentence: what is missing, where to put the files by hand, or how to use SynthHAR instead.

Integrity: the VOC 2012 tar is checked against its known MD5. The Stanford40 site publishes no
checksum for its three zips, so none can be checked on the first download; instead the sha256
of each archive without a known hash is recorded then, in ``.harlearn-sha256.json`` beside the
archives (``data_home()/"downloads"``), and every later download or extraction compares
against that record and raises :class:`ArchiveChangedError`, naming the file, when it differs.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import tarfile
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import pooch

from ._common import data_home

__all__ = [
    "Archive",
    "DownloadError",
    "ArchiveChangedError",
    "UnsafeArchiveError",
    "STANFORD40_ARCHIVES",
    "VOC2012_ARCHIVES",
    "fetch",
    "safe_extract",
    "download_missing",
    "check_recorded_sha256",
    "SHA256_RECORD",
]


@dataclass(frozen=True)
class Archive:
    """One official archive.

    Attributes:
        url: where to fetch it.
        known_hash: ``"md5:..."``/``"sha256:..."`` for pooch, or ``None`` when unknown.
        provides: the path (relative to the dataset root) that exists once it is extracted.
    """

    url: str
    known_hash: str | None
    provides: str

    @property
    def filename(self) -> str:
        """The archive's file name (the last part of the URL)."""
        return self.url.rsplit("/", 1)[-1]


_STANFORD = "http://vision.stanford.edu/Datasets/"
# The Stanford40 site publishes no checksums, so the hashes are unknown (None: pooch skips the
# check); fetch records each zip's sha256 on its first download and compares later copies with it.
STANFORD40_ARCHIVES = (
    Archive(_STANFORD + "Stanford40_JPEGImages.zip", None, "JPEGImages"),
    Archive(_STANFORD + "Stanford40_XMLAnnotations.zip", None, "XMLAnnotations"),
    Archive(_STANFORD + "Stanford40_ImageSplits.zip", None, "ImageSplits"),
)
# The MD5 of the VOC 2012 trainval tar is the one torchvision's VOC datasets check.
VOC2012_ARCHIVES = (
    Archive(
        "http://host.robots.ox.ac.uk/pascal/VOC/voc2012/VOCtrainval_11-May-2012.tar",
        "md5:6cd6e144f989b92b3379bac3b3de84fd",
        "VOCdevkit/VOC2012/JPEGImages",
    ),
)


# tarfile.FilterError exists where the stdlib has extraction filters (3.12, and 3.8-3.11 backports).
_FILTER_ERROR = getattr(tarfile, "FilterError", ())


class DownloadError(ConnectionError):
    """An official archive could not be downloaded (offline, blocked, or a bad checksum)."""


class ArchiveChangedError(ValueError):
    """An archive without a published hash differs from the copy first downloaded."""


#: The record of the sha256 of every archive without a published hash, beside the archives.
SHA256_RECORD = ".harlearn-sha256.json"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def check_recorded_sha256(path: Path, record: Path) -> str:
    """Compare ``path``'s sha256 with the one recorded for its file name, or record it.

    Args:
        path: the archive.
        record: the JSON file ``{file name: sha256}`` (created when missing; written atomically).

    Returns:
        The archive's sha256.

    Raises:
        ArchiveChangedError: a sha256 is recorded for this file name and differs.
    """
    digest = _sha256(path)
    known = json.loads(record.read_text()) if record.exists() else {}
    name = Path(path).name
    if name in known and known[name] != digest:
        raise ArchiveChangedError(
            f"{path} has sha256 {digest}, but {known[name]} was recorded in {record} when it was "
            f"first downloaded: the file is corrupt, truncated or a new release; delete it and "
            f"download it again, or, if the new file is intended, remove its entry from {record}."
        )
    if name not in known:
        known[name] = digest
        record.parent.mkdir(parents=True, exist_ok=True)
        tmp = record.with_name(record.name + ".tmp")
        tmp.write_text(json.dumps(known, indent=1, sort_keys=True) + "\n")
        os.replace(tmp, record)
    return digest


class UnsafeArchiveError(ValueError):
    """An archive member would be written outside the extraction folder."""


def fetch(archive: Archive, root: Path, dataset: str) -> Path:
    """Download ``archive`` into ``data_home()/"downloads"`` (a cached copy is reused).

    An archive with a known hash is checked by pooch. One without (the Stanford40 zips: the
    site publishes none) has its sha256 recorded in ``data_home()/"downloads"/.harlearn-sha256.json``
    the first time and compared with that record every later time.

    Args:
        archive: what to fetch.
        root: the dataset root it is meant for (named in the error).
        dataset: the dataset's name (named in the error).

    Returns:
        The local archive file.

    Raises:
        DownloadError: the download failed for any reason.
        ArchiveChangedError: an archive without a published hash differs from its first download.
    """
    downloads = data_home() / "downloads"
    try:
        path = Path(
            pooch.retrieve(
                archive.url, known_hash=archive.known_hash, fname=archive.filename,
                path=downloads, progressbar=True,
            )
        )
    except Exception as err:  # offline, HTTP error, checksum mismatch: all get the same advice
        raise DownloadError(
            f"Could not download {archive.url} ({type(err).__name__}: {err}), so {dataset} is "
            f"missing {root / archive.provides}: fetch the file by hand into {downloads} (or "
            f"extract it into {root}), or use the embedded dataset via harlearn.data.make_synthhar(root)."
        ) from err
    if archive.known_hash is None:
        check_recorded_sha256(path, downloads / SHA256_RECORD)
    return path


def download_missing(root: Path, archives: Sequence[Archive], dataset: str) -> None:
    """Fetch and extract into ``root`` every archive whose ``provides`` path is missing."""
    for archive in archives:
        if (root / archive.provides).exists():
            continue
        safe_extract(fetch(archive, root, dataset), root)
        if not (root / archive.provides).exists():
            raise FileNotFoundError(
                f"Extracting {archive.filename} into {root} did not create {archive.provides}: "
                "the archive has an unexpected layout; extract it by hand so that path exists."
            )


def safe_extract(archive: str | os.PathLike, dest: str | os.PathLike) -> Path:
    """Extract a zip or tar archive into ``dest``, refusing anything that escapes it.

    Members are unpacked into a temporary folder inside ``dest``'s parent; only when all are
    unpacked are they renamed into place (``dest`` itself when it does not exist yet, else each
    top-level entry into it). Zip entries under ``__MACOSX/`` are skipped.

    Args:
        archive: a ``.zip`` or (possibly compressed) ``.tar`` file.
        dest: the folder to extract into; created if missing.

    Returns:
        ``dest`` as a ``Path``.

    Raises:
        UnsafeArchiveError: a member has an absolute path, escapes ``dest`` through ``..`` or a
            link, or is a device file. Nothing is extracted then.
        FileExistsError: a top-level entry of the archive already exists in ``dest``.
        ValueError: the file is neither a zip nor a tar archive.
    """
    archive, dest = Path(archive), Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.extract-", dir=dest.parent))
    try:
        if zipfile.is_zipfile(archive):
            _extract_zip(archive, tmp)
        elif tarfile.is_tarfile(archive):
            _extract_tar(archive, tmp)
        else:
            raise ValueError(
                f"{archive} is neither a zip nor a tar archive: delete it and download it again."
            )
        _move_into(tmp, dest, archive)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


def _inside(path: str, root: Path) -> bool:
    """Whether ``path`` (after resolving links that exist so far) stays within ``root``."""
    real_root = os.path.realpath(root)
    return os.path.commonpath([real_root, os.path.realpath(path)]) == real_root


def _check_member(name: str, root: Path, archive: Path, link: str | None = None, link_base: str = "") -> Path:
    """Refuse an absolute or escaping member name (and link target); return its target path."""

    def refuse(why: str) -> UnsafeArchiveError:
        return UnsafeArchiveError(f"Refusing to extract {archive}: member {name!r} {why}.")

    posix = PurePosixPath(name.replace("\\", "/"))
    if posix.is_absolute() or (len(name) > 1 and name[1] == ":"):
        raise refuse("has an absolute path")
    target = root / posix
    if not _inside(str(target), root):
        raise refuse("would be written outside the target folder")
    if link is not None:
        link_posix = PurePosixPath(link.replace("\\", "/"))
        if link_posix.is_absolute() or not _inside(str(root / link_base / link_posix), root):
            raise refuse(f"links to {link!r}, outside the target folder")
    return target


def _extract_zip(archive: Path, root: Path) -> None:
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            if info.filename.startswith("__MACOSX/"):
                continue
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                link = zf.read(info).decode("utf-8")
                parent = str(PurePosixPath(info.filename).parent)
                target = _check_member(info.filename, root, archive, link, parent)
                target.parent.mkdir(parents=True, exist_ok=True)
                os.symlink(link, target)
                continue
            target = _check_member(info.filename, root, archive)
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst)


def _extract_tar(archive: Path, root: Path) -> None:
    # Each member is checked against what is already on disk just before it is written, so a
    # link extracted earlier cannot redirect a later member. The stdlib "data" filter, when
    # this Python has it, is a second line of defence.
    extra = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
    with tarfile.open(archive) as tf:
        for member in tf:
            if member.issym():
                parent = str(PurePosixPath(member.name).parent)
                _check_member(member.name, root, archive, member.linkname, parent)
            elif member.islnk():
                _check_member(member.name, root, archive, member.linkname)
            elif member.isfile() or member.isdir():
                _check_member(member.name, root, archive)
            else:
                raise UnsafeArchiveError(
                    f"Refusing to extract {archive}: member {member.name!r} is a device or special file."
                )
            try:
                tf.extract(member, root, **extra)
            except _FILTER_ERROR as err:
                raise UnsafeArchiveError(f"Refusing to extract {archive}: {err}.") from None


def _move_into(tmp: Path, dest: Path, archive: Path) -> None:
    """Rename the extracted tree into ``dest`` (whole, or entry by entry when ``dest`` exists)."""
    if not dest.exists():
        os.rename(tmp, dest)
        return
    entries = sorted(tmp.iterdir())
    clashes = [e.name for e in entries if os.path.lexists(dest / e.name)]
    if clashes:
        raise FileExistsError(
            f"Cannot extract {archive} into {dest}: {', '.join(clashes)} already exist there; "
            "remove them (or choose another root) and retry."
        )
    for entry in entries:
        os.rename(entry, dest / entry.name)
