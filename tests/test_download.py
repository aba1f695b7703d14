"""Safe extraction (zip and tar) and download=True, with pooch monkeypatched: no network."""

from __future__ import annotations

import io
import os
import shutil
import stat
import tarfile
import zipfile
from pathlib import Path

import pytest

from harlearn.data import Stanford40, VOCAction, data_home
from harlearn.data import _download
from harlearn.data._download import DownloadError, UnsafeArchiveError, safe_extract

# ---------------------------------------------------------------- archive builders


def make_zip(path, members):
    """``members``: (name, bytes) files, (name, None) directories, (name, "->target") symlinks."""
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members:
            if isinstance(data, str):
                info = zipfile.ZipInfo(name)
                info.external_attr = (stat.S_IFLNK | 0o777) << 16
                zf.writestr(info, data[2:])
            elif data is None:
                zf.writestr(zipfile.ZipInfo(name.rstrip("/") + "/"), b"")
            else:
                zf.writestr(zipfile.ZipInfo(name), data)
    return path


def make_tar(path, members, mode="w"):
    """``members``: (name, bytes) files, (name, "->target") symlinks, (name, "=>target") hardlinks."""
    with tarfile.open(path, mode) as tf:
        for name, data in members:
            info = tarfile.TarInfo(name)
            if isinstance(data, str):
                info.type = tarfile.SYMTYPE if data.startswith("->") else tarfile.LNKTYPE
                info.linkname = data[2:]
                tf.addfile(info)
            else:
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
    return path


def leftovers(folder):
    """Temporary extraction folders left behind."""
    return [p.name for p in folder.iterdir() if ".extract-" in p.name]


# ---------------------------------------------------------------- safe_extract


def test_zip_extracts_into_new_and_existing_folders(tmp_path):
    archive = make_zip(tmp_path / "a.zip", [
        ("JPEGImages/", None), ("JPEGImages/x_001.jpg", b"jpeg"), ("JPEGImages/sub/y.txt", b"y"),
        ("__MACOSX/JPEGImages/._x_001.jpg", b"junk"),
    ])
    dest = tmp_path / "data" / "stanford40"
    assert safe_extract(archive, dest) == dest
    assert (dest / "JPEGImages" / "x_001.jpg").read_bytes() == b"jpeg"
    assert (dest / "JPEGImages" / "sub" / "y.txt").read_bytes() == b"y"
    assert not (dest / "__MACOSX").exists()
    second = make_zip(tmp_path / "b.zip", [("ImageSplits/train.txt", b"x_001.jpg\n")])
    safe_extract(second, dest)
    assert sorted(p.name for p in dest.iterdir()) == ["ImageSplits", "JPEGImages"]
    with pytest.raises(FileExistsError, match="ImageSplits already exist"):
        safe_extract(second, dest)
    assert leftovers(dest.parent) == []


@pytest.mark.parametrize("mode", ["w", "w:gz"])
def test_tar_extracts_files_and_inside_links(tmp_path, mode):
    archive = make_tar(tmp_path / "a.tar", [
        ("VOCdevkit/VOC2012/JPEGImages/1.jpg", b"jpeg"),
        ("VOCdevkit/VOC2012/latest", "->JPEGImages/1.jpg"),
        ("VOCdevkit/VOC2012/copy.jpg", "=>VOCdevkit/VOC2012/JPEGImages/1.jpg"),
    ], mode)
    dest = tmp_path / "voc"
    safe_extract(archive, dest)
    base = dest / "VOCdevkit" / "VOC2012"
    assert (base / "JPEGImages" / "1.jpg").read_bytes() == b"jpeg"
    assert os.path.islink(base / "latest") and (base / "latest").read_bytes() == b"jpeg"
    assert (base / "copy.jpg").read_bytes() == b"jpeg"


UNSAFE = [
    ("parent", [("ok.txt", b"ok"), ("../evil.txt", b"x")], "outside the target folder"),
    ("nested parent", [("a/../../evil.txt", b"x")], "outside the target folder"),
    ("absolute", [("/tmp/evil.txt", b"x")], "absolute path"),
    ("symlink out", [("link", "->../../outside")], "links to '../../outside'"),
    ("absolute symlink", [("link", "->/etc/passwd")], "links to '/etc/passwd'"),
    ("nested symlink out", [("d/link", "->../..")], "links to '../..'"),
    ("write through link", [("link", "->."), ("link/../../evil.txt", b"x")], "outside the target folder"),
]


@pytest.mark.parametrize("kind", ["zip", "tar"])
@pytest.mark.parametrize("case", UNSAFE, ids=[c[0] for c in UNSAFE])
def test_refuses_escaping_members(tmp_path, kind, case):
    _, members, message = case
    archive = (make_zip if kind == "zip" else make_tar)(tmp_path / f"evil.{kind}", members)
    dest = tmp_path / "out" / "dest"
    with pytest.raises(UnsafeArchiveError, match=message):
        safe_extract(archive, dest)
    assert not dest.exists() and leftovers(dest.parent) == []  # atomic: nothing half-written
    assert not (tmp_path / "out" / "evil.txt").exists() and not (tmp_path / "evil.txt").exists()


def test_refuses_hardlink_out_and_device_files(tmp_path):
    archive = make_tar(tmp_path / "h.tar", [("h", "=>../secret")])
    with pytest.raises(UnsafeArchiveError, match="links to '../secret'"):
        safe_extract(archive, tmp_path / "dest")
    with tarfile.open(tmp_path / "dev.tar", "w") as tf:
        info = tarfile.TarInfo("null")
        info.type = tarfile.CHRTYPE
        tf.addfile(info)
    with pytest.raises(UnsafeArchiveError, match="device or special file"):
        safe_extract(tmp_path / "dev.tar", tmp_path / "dest")
    (tmp_path / "plain.txt").write_text("hello")
    with pytest.raises(ValueError, match="neither a zip nor a tar"):
        safe_extract(tmp_path / "plain.txt", tmp_path / "dest")
    assert not (tmp_path / "dest").exists()


# ---------------------------------------------------------------- download=True


def test_data_home(monkeypatch, tmp_path):
    monkeypatch.setenv("HARLEARN_DATA", str(tmp_path))
    assert data_home() == tmp_path
    monkeypatch.delenv("HARLEARN_DATA")
    assert data_home() == Path("~/.cache/harlearn").expanduser()


def _zip_folder(folder, archive):
    """Zip ``folder`` so that its name is the archive's top-level entry (as the official zips)."""
    shutil.make_archive(str(archive.with_suffix("")), "zip", folder.parent, folder.name)
    return archive


@pytest.fixture
def fake_pooch(monkeypatch, tmp_path):
    """Replace ``pooch.retrieve``: serve files from a dict of URL -> local archive, record calls."""
    monkeypatch.setenv("HARLEARN_DATA", str(tmp_path / "home"))
    served, calls = {}, []

    def retrieve(url, known_hash=None, fname=None, path=None, **kwargs):
        calls.append({"url": url, "known_hash": known_hash, "fname": fname, "path": path})
        if url not in served:
            raise ConnectionError("Max retries exceeded: Temporary failure in name resolution")
        return str(served[url])

    monkeypatch.setattr(_download.pooch, "retrieve", retrieve)
    return served, calls


def test_stanford40_download(stanford40_root, tmp_path, fake_pooch):
    served, calls = fake_pooch
    for archive in _download.STANFORD40_ARCHIVES:
        served[archive.url] = _zip_folder(stanford40_root / archive.provides, tmp_path / archive.filename)
    root = tmp_path / "fresh"
    ds = Stanford40(root, "train", download=True)
    assert len(ds) == 3 and ds[1]["boxes"].shape == (2, 4)
    assert [c["url"] for c in calls] == [
        "http://vision.stanford.edu/Datasets/Stanford40_JPEGImages.zip",
        "http://vision.stanford.edu/Datasets/Stanford40_XMLAnnotations.zip",
        "http://vision.stanford.edu/Datasets/Stanford40_ImageSplits.zip",
    ]
    assert all(c["path"] == data_home() / "downloads" and c["known_hash"] is None for c in calls)
    assert data_home() == tmp_path / "home"
    Stanford40(root, "test", download=True)
    assert len(calls) == 3  # everything present: nothing fetched again


def test_voc_download(voc_root, tmp_path, fake_pooch):
    served, calls = fake_pooch
    (archive,) = _download.VOC2012_ARCHIVES
    tar = tmp_path / archive.filename
    with tarfile.open(tar, "w") as tf:
        tf.add(voc_root / "VOCdevkit", arcname="VOCdevkit")
    served[archive.url] = tar
    ds = VOCAction(tmp_path / "fresh", "trainval", download=True)
    assert len(ds) == 4
    assert calls[0]["url"] == "http://host.robots.ox.ac.uk/pascal/VOC/voc2012/VOCtrainval_11-May-2012.tar"
    assert calls[0]["known_hash"] == "md5:6cd6e144f989b92b3379bac3b3de84fd"


def test_offline_download_says_what_to_do(tmp_path, fake_pooch):
    with pytest.raises(DownloadError, match=(
        r"Could not download http://vision.stanford.edu/Datasets/Stanford40_JPEGImages.zip .*"
        r"Stanford40 is missing .*JPEGImages: fetch the file by hand into .*downloads.*make_synthhar"
    )):
        Stanford40(tmp_path / "nothing", download=True)
    with pytest.raises(ConnectionError, match="VOCtrainval_11-May-2012.tar"):
        VOCAction(tmp_path / "nothing", download=True)


# ---------------------------------------------------------------- issue 14: roots and hashes


def test_voc_download_is_not_skipped_when_stanford40_shares_the_root(stanford40_root, voc_root, tmp_path, fake_pooch):
    """Stanford40's JPEGImages/ is not a VOC tree: download=True must still fetch VOC."""
    served, calls = fake_pooch
    (archive,) = _download.VOC2012_ARCHIVES
    tar = tmp_path / archive.filename
    with tarfile.open(tar, "w") as tf:
        tf.add(voc_root / "VOCdevkit", arcname="VOCdevkit")
    served[archive.url] = tar
    ds = VOCAction(stanford40_root, "trainval", download=True)
    assert [c["url"] for c in calls] == [archive.url]
    assert len(ds) == 4 and ds.base == stanford40_root / "VOCdevkit" / "VOC2012"


def test_stanford40_sha256_is_recorded_then_checked(stanford40_root, tmp_path, fake_pooch):
    import hashlib
    import json

    from harlearn.data._download import ArchiveChangedError

    served, calls = fake_pooch
    for archive in _download.STANFORD40_ARCHIVES:
        served[archive.url] = _zip_folder(stanford40_root / archive.provides, tmp_path / archive.filename)
    Stanford40(tmp_path / "first", "train", download=True)
    record = data_home() / "downloads" / ".harlearn-sha256.json"
    recorded = json.loads(record.read_text())
    assert recorded == {
        a.filename: hashlib.sha256(served[a.url].read_bytes()).hexdigest()
        for a in _download.STANFORD40_ARCHIVES
    }
    Stanford40(tmp_path / "second", "train", download=True)  # the same files: accepted
    assert len(calls) == 6

    changed = served[_download.STANFORD40_ARCHIVES[1].url]  # the annotations zip
    with zipfile.ZipFile(changed, "a") as zf:
        zf.writestr("XMLAnnotations/extra.xml", "<annotation/>")
    with pytest.raises(ArchiveChangedError, match=(
        r"Stanford40_XMLAnnotations.zip has sha256 [0-9a-f]{64}, but [0-9a-f]{64} was recorded in "
        r".*\.harlearn-sha256.json when it was first downloaded.*delete it and download it again"
    )):
        Stanford40(tmp_path / "third", "train", download=True)
    assert not (tmp_path / "third" / "XMLAnnotations").exists()  # refused before extraction
    assert json.loads(record.read_text()) == recorded  # the record is not overwritten
