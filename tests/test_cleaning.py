import zipfile

import pandas as pd
import pytest
from PIL import Image

from painter.data.cleaning import clean_kaggle

from .conftest import PBN_DEV, needs_pbn_dev


def test_clean_synthetic_accounts_for_every_row(kaggle_dir, clean_dir):
    report = pd.read_csv(clean_dir / "cleaning_report.csv", keep_default_na=False)
    info = pd.read_csv(kaggle_dir / "all_data_info.csv")
    assert sorted(report["filename"]) == sorted(info["new_filename"])
    assert report["status"].value_counts().to_dict() == {"ok": len(info) - 2, "replaced": 1, "missing": 1}
    written = list((clean_dir / "train").glob("*.jpg")) + list((clean_dir / "test").glob("*.jpg"))
    assert len(written) == len(info) - 1
    for p in written[:20]:
        with Image.open(p) as im:
            assert im.mode == "RGB" and im.size == (64, 64) and im.format == "JPEG"
    assert (clean_dir / "all_data_info.csv").is_file() and (clean_dir / "submission_info.csv").is_file()


def test_clean_is_resumable_and_leaves_archives_alone(kaggle_dir, tmp_path):
    before = {p.name: p.read_bytes() for p in kaggle_dir.glob("*.zip")}
    out = tmp_path / "out"
    clean_kaggle(kaggle_dir, out, size=48, workers=1, progress=False)
    victim = next((out / "train").glob("*.jpg"))
    victim.unlink()
    stamp = {p: p.stat().st_mtime_ns for p in (out / "train").glob("*.jpg")}
    report = clean_kaggle(kaggle_dir, out, size=48, workers=1, progress=False)
    assert victim.is_file()                                        # redone
    assert all(p.stat().st_mtime_ns == t for p, t in stamp.items())  # the rest untouched
    assert (report["status"] == "missing").sum() == 1
    assert before == {p.name: p.read_bytes() for p in kaggle_dir.glob("*.zip")}


def test_clean_reports_unreadable_with_reason(kaggle_dir, tmp_path):
    src = tmp_path / "k"
    src.mkdir()
    for p in kaggle_dir.iterdir():
        (src / p.name).write_bytes(p.read_bytes())
    (src / "replacements_for_corrupted_files.zip").unlink()   # the truncated file stays broken
    with zipfile.ZipFile(src / "test.zip", "a") as z:
        z.writestr("test/999999.jpg", b"junk")                 # an image the CSV does not list
    report = clean_kaggle(src, tmp_path / "out", size=48, workers=1, progress=False).set_index("filename")
    bad = report[report.status == "unreadable"]
    assert len(bad) == 1 and "truncated" in bad.iloc[0]["reason"]
    assert report.loc["999999.jpg", "status"] == "not_in_csv"


def test_clean_never_enlarges(kaggle_dir, tmp_path):
    # the synthetic paintings are 96 px squares: at size 128 they keep their 96 pixels
    clean_kaggle(kaggle_dir, tmp_path / "out", size=128, workers=1, progress=False)
    sizes = {Image.open(p).size for p in (tmp_path / "out").rglob("*.jpg")}
    assert sizes == {(96, 96)}


def test_clean_bad_inputs(tmp_path):
    with pytest.raises(FileNotFoundError, match="all_data_info.csv: file not found"):
        clean_kaggle(tmp_path, tmp_path / "out")
    (tmp_path / "all_data_info.csv").write_text("artist,x\nA,1\n")
    with pytest.raises(ValueError, match="needs columns 'new_filename' and 'in_train'"):
        clean_kaggle(tmp_path, tmp_path / "out")


@needs_pbn_dev
def test_clean_pbn_dev(tmp_path_factory):
    out = tmp_path_factory.mktemp("pbn_clean")
    report = clean_kaggle(PBN_DEV, out, size=64, workers=2, progress=False)
    assert len(report) == 7261
    assert report["status"].value_counts().to_dict() == {"ok": 7254, "replaced": 6, "missing": 1}
    assert len(list((out / "train").iterdir())) + len(list((out / "test").iterdir())) == 7260
    assert report.loc[report.status == "missing", "filename"].tolist() == ["811974.jpg"]
