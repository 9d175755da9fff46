"""Every mistake a user can make with a path: exit code 1, one line on stderr that
names the path and says what is wrong, and no output written."""
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from painter.classify import train_classifier
from painter.cli import main
from painter.features import FeatureSpec
from painter.same_artist.submit import submit
from painter.search import build_index_from_data

SMALL = FeatureSpec("efficientnet_lite0", 64)
SMALL_ARGS = ["--backbone", "efficientnet_lite0", "--image-size", "64"]


def _copy(src, dst):
    (shutil.copytree if src.is_dir() else shutil.copy)(src, dst)
    return dst


def _cut_copy(src, dst, part=""):
    """A copy of a file or folder whose file (or ``part``) is cut in half, as a download cut
    short would be; a CSV a few characters into its middle line."""
    path = _copy(src, dst) / part
    data = path.read_bytes()
    path.write_bytes(data[:data.index(b"\n", len(data) // 2) + 4 if path.suffix == ".csv" else len(data) // 2])
    return dst


def _edited_copy(src, dst, part, edit):
    """A copy of a folder whose JSON file ``part`` is changed by ``edit(its content)``."""
    path = _copy(src, dst) / part
    content = json.loads(path.read_text())
    edit(content)
    path.write_text(json.dumps(content))
    return dst


def _csv(path, df):
    df.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def paths(kaggle_dir, clean_dir, lda_model_dir, tmp_path_factory):
    """Every input the cases below use, by name: good ones (a tiny trained model, index and
    classifier) and bad ones."""
    root = tmp_path_factory.mktemp("inputs")
    build_index_from_data(clean_dir, root / "index", spec=SMALL, progress=False)
    train_classifier(clean_dir, root / "classifier", spec=SMALL, epochs=2, progress=False)
    jpg, jpg2 = sorted((clean_dir / "test").glob("*.jpg"))[:2]
    info = pd.read_csv(kaggle_dir / "submission_info.csv")
    sol = pd.read_csv(kaggle_dir / "solution_painter.csv")
    sub = sol[["index"]].assign(sameArtist=np.random.default_rng(0).random(len(sol)))
    (root / "empty_dir").mkdir()
    (root / "empty.csv").write_bytes(b"")
    cut_images = root / "cut_images"      # test/ and train/ of truncated paintings
    for split in ("test", "train"):
        (cut_images / split).mkdir(parents=True)
        for p in (clean_dir / split).glob("*.jpg"):
            _cut_copy(p, cut_images / split / p.name)
    return {
        "kaggle": kaggle_dir, "data": clean_dir, "model": lda_model_dir, "index": root / "index",
        "classifier": root / "classifier", "jpg": jpg, "jpg2": jpg2, "info": kaggle_dir / "submission_info.csv",
        "solution": kaggle_dir / "solution_painter.csv", "submission": _csv(root / "submission.csv", sub),
        "missing": root / "no_such_file", "empty_dir": root / "empty_dir", "empty_file": root / "empty.csv",
        "cut_images": cut_images,
        "cut_jpg": _cut_copy(jpg, root / "cut.jpg"),
        "cut_info": _cut_copy(kaggle_dir / "submission_info.csv", root / "cut_info.csv"),
        "cut_solution": _cut_copy(kaggle_dir / "solution_painter.csv", root / "cut_solution.csv"),
        "cut_submission": _cut_copy(root / "submission.csv", root / "cut_submission.csv"),
        "cut_labels_kaggle": _cut_copy(kaggle_dir, root / "cut_labels_kaggle", "all_data_info.csv"),
        "cut_zip_kaggle": _cut_copy(kaggle_dir, root / "cut_zip_kaggle", "train_1.zip"),
        "cut_data": _cut_copy(clean_dir, root / "cut_data", "all_data_info.csv"),
        "cut_model": _cut_copy(lda_model_dir, root / "cut_model", "embedder.keras"),
        "cut_model_config": _cut_copy(lda_model_dir, root / "cut_model_config", "config.json"),
        "cut_index": _cut_copy(root / "index", root / "cut_index", "index.faiss"),
        "cut_index_config": _cut_copy(root / "index", root / "cut_index_config", "config.json"),
        "cut_classifier": _cut_copy(root / "classifier", root / "cut_classifier", "classifier.keras"),
        "cut_classes": _cut_copy(root / "classifier", root / "cut_classes", "classes.json"),
        "newer_model": _edited_copy(lda_model_dir, root / "newer_model", "config.json",
                                    lambda c: c["feature_spec"].update(resolution_of_painter_3=2)),
        "info_text_index": _csv(root / "info_text_index.csv", info.astype({"index": str}).assign(
            index=lambda d: d["index"].where(d.index != 5, "six"))),
        "info_repeated": _csv(root / "info_repeated.csv", info.assign(index=lambda d: d["index"] // 2)),
        "sub_text_score": _csv(root / "sub_text_score.csv", sub.astype({"sameArtist": str}).assign(
            sameArtist=lambda d: d["sameArtist"].where(d.index != 3, "high"))),
        "sub_repeated": _csv(root / "sub_repeated.csv", pd.concat([sub, sub.head(1)])),
        "sub_short": _csv(root / "sub_short.csv", sub.iloc[:-4]),
        "sol_not_binary": _csv(root / "sol_not_binary.csv", sol.assign(sameArtist=0.5)),
    }


# each command with good inputs: {name} is filled in from ``paths``, {out} is a fresh path
COMMANDS = {
    "clean": ["clean", "{kaggle}", "--out", "{out}"],
    "train": ["train", "{data}", "--out", "{out}", *SMALL_ARGS],
    "submit": ["submit", "{model}", "{data}", "{info}", "--out", "{out}"],
    "score": ["score", "{submission}", "{solution}"],
    "predict-pair": ["predict-pair", "{jpg}", "{jpg2}", "--model", "{model}"],
    "classify train": ["classify", "train", "{data}", "--out", "{out}", *SMALL_ARGS],
    "classify predict": ["classify", "predict", "{classifier}", "{jpg}"],
    "index": ["index", "{data}", "--out", "{out}", "--embedding", "{model}", *SMALL_ARGS],
    "similar": ["similar", "{index}", "{jpg}", "--png", "{out}"],
    "attribute": ["attribute", "{jpg}", "--reference", "{data}", "--model", "{model}", "--png", "{out}"],
    "explain": ["explain", "{jpg}", "{jpg2}", "--model", "{model}", "--grid", "3", "--png", "{out}"],
}

# (command, the argument replaced, by what, a word of the expected reason)
CASES = [
    # painter clean KAGGLE_DIR
    ("clean", "kaggle", "missing", "not found"),
    ("clean", "kaggle", "empty_dir", "all_data_info.csv: file not found"),
    ("clean", "kaggle", "info", "not a folder"),
    ("clean", "kaggle", "data", "no train.zip"),                    # already cleaned
    ("clean", "kaggle", "model", "not a Kaggle folder"),
    ("clean", "kaggle", "cut_labels_kaggle", "cut short"),
    ("clean", "kaggle", "cut_zip_kaggle", "not a readable zip"),
    # painter train DATA_DIR --out MODEL_DIR
    ("train", "data", "missing", "not found"),
    ("train", "data", "empty_dir", "no <label>/<image>"),
    ("train", "data", "info", "not a folder"),
    ("train", "data", "kaggle", "clean it first"),
    ("train", "data", "model", "not a data folder"),
    ("train", "data", "cut_data", "cut short"),
    ("train", "data", "cut_images", "none of the"),
    ("train", "out", "info", "not a folder"),
    ("train", "out", "index", "would overwrite"),
    # painter submit MODEL_DIR DATA_DIR SUBMISSION_INFO --out FILE
    ("submit", "model", "missing", "not found"),
    ("submit", "model", "empty_dir", "config.json: missing"),
    ("submit", "model", "info", "not a folder"),
    ("submit", "model", "index", "not a same-artist model folder"),
    ("submit", "model", "classifier", "not a same-artist model folder"),
    ("submit", "model", "cut_model", "embedder.keras: damaged"),
    ("submit", "model", "cut_model_config", "config.json: damaged"),
    ("submit", "data", "missing", "not found"),
    ("submit", "data", "empty_dir", "none of the"),
    ("submit", "data", "info", "not a folder"),
    ("submit", "data", "model", "not a data folder"),
    ("submit", "data", "cut_images", "truncated"),
    ("submit", "info", "missing", "not found"),
    ("submit", "info", "empty_file", "empty"),
    ("submit", "info", "empty_dir", "is a folder"),
    ("submit", "info", "jpg", "not a text CSV (a JPEG image)"),
    ("submit", "info", "solution", "expected a CSV with columns index,image1,image2"),
    ("submit", "info", "cut_info", "cut short"),
    ("submit", "info", "info_text_index", "line 7: index 'six' is not an integer"),
    ("submit", "info", "info_repeated", "more than once"),
    ("submit", "out", "empty_dir", "is a folder"),
    # painter score SUBMISSION SOLUTION
    ("score", "submission", "missing", "not found"),
    ("score", "submission", "empty_file", "empty"),
    ("score", "submission", "empty_dir", "is a folder"),
    ("score", "submission", "jpg", "not a text CSV"),
    ("score", "submission", "info", "no column sameArtist"),
    ("score", "submission", "cut_submission", "cut short"),
    ("score", "submission", "sub_text_score", "line 5: sameArtist 'high' is not a number"),
    ("score", "submission", "sub_repeated", "more than once"),
    ("score", "submission", "sub_short", "4 of its"),
    ("score", "solution", "missing", "not found"),
    ("score", "solution", "empty_file", "empty"),
    ("score", "solution", "empty_dir", "is a folder"),
    ("score", "solution", "jpg", "not a text CSV"),
    ("score", "solution", "cut_solution", "cut short"),
    ("score", "solution", "sol_not_binary", "is not 0 or 1"),
    # painter predict-pair A B --model MODEL_DIR
    ("predict-pair", "jpg", "missing", "file not found"),
    ("predict-pair", "jpg", "empty_file", "file is empty"),
    ("predict-pair", "jpg", "empty_dir", "is a folder"),
    ("predict-pair", "jpg", "info", "not an image"),
    ("predict-pair", "jpg", "cut_jpg", "truncated"),
    ("predict-pair", "jpg2", "cut_jpg", "truncated"),
    ("predict-pair", "model", "missing", "not found"),
    ("predict-pair", "model", "empty_dir", "config.json: missing"),
    ("predict-pair", "model", "info", "not a folder"),
    ("predict-pair", "model", "index", "a search index folder"),
    ("predict-pair", "model", "classifier", "a classifier folder"),
    ("predict-pair", "model", "cut_model", "embedder.keras: damaged"),
    ("predict-pair", "model", "newer_model", "config.json: feature_spec: unknown FeatureSpec fields"),
    # painter classify train DATA_DIR --out DIR
    ("classify train", "data", "missing", "not found"),
    ("classify train", "data", "empty_dir", "no <label>/<image>"),
    ("classify train", "data", "info", "not a folder"),
    ("classify train", "data", "model", "not a data folder"),
    ("classify train", "data", "cut_data", "cut short"),
    ("classify train", "data", "cut_images", "none of the"),
    ("classify train", "out", "info", "not a folder"),
    ("classify train", "out", "model", "would overwrite"),
    # painter classify predict MODEL IMAGES
    ("classify predict", "classifier", "missing", "not found"),
    ("classify predict", "classifier", "empty_dir", "classes.json: missing"),
    ("classify predict", "classifier", "info", "not a folder"),
    ("classify predict", "classifier", "model", "a same-artist model folder, not a classifier folder"),
    ("classify predict", "classifier", "index", "a search index folder"),
    ("classify predict", "classifier", "cut_classifier", "classifier.keras: damaged"),
    ("classify predict", "classifier", "cut_classes", "classes.json: damaged"),
    ("classify predict", "jpg", "missing", "file not found"),
    ("classify predict", "jpg", "empty_file", "file is empty"),
    ("classify predict", "jpg", "empty_dir", "is a folder"),
    ("classify predict", "jpg", "info", "not an image"),
    ("classify predict", "jpg", "cut_jpg", "truncated"),
    # painter index DATA_DIR --out INDEX_DIR --embedding MODEL_DIR
    ("index", "data", "missing", "not found"),
    ("index", "data", "empty_dir", "no <label>/<image>"),
    ("index", "data", "info", "not a folder"),
    ("index", "data", "model", "not a data folder"),
    ("index", "data", "cut_data", "cut short"),
    ("index", "data", "cut_images", "none of the"),
    ("index", "model", "missing", "not found"),
    ("index", "model", "empty_dir", "config.json: missing"),
    ("index", "model", "info", "not a folder"),
    ("index", "model", "index", "a search index folder"),
    ("index", "model", "cut_model", "embedder.keras: damaged"),
    ("index", "out", "info", "not a folder"),
    ("index", "out", "model", "would overwrite"),
    # painter similar INDEX_DIR IMAGE
    ("similar", "index", "missing", "not found"),
    ("similar", "index", "empty_dir", "config.json: missing"),
    ("similar", "index", "info", "not a folder"),
    ("similar", "index", "model", "a same-artist model folder, not a search index folder"),
    ("similar", "index", "cut_index", "index.faiss: damaged"),
    ("similar", "index", "cut_index_config", "config.json: damaged"),
    ("similar", "jpg", "missing", "file not found"),
    ("similar", "jpg", "empty_file", "file is empty"),
    ("similar", "jpg", "empty_dir", "is a folder"),
    ("similar", "jpg", "info", "not an image"),
    ("similar", "jpg", "cut_jpg", "truncated"),
    ("similar", "out", "empty_dir", "is a folder"),
    # painter attribute IMAGE --reference DIR --model MODEL_DIR --png FILE
    ("attribute", "jpg", "missing", "file not found"),
    ("attribute", "jpg", "empty_file", "file is empty"),
    ("attribute", "jpg", "empty_dir", "is a folder"),
    ("attribute", "jpg", "info", "not an image"),
    ("attribute", "jpg", "cut_jpg", "truncated"),
    ("attribute", "data", "missing", "not found"),
    ("attribute", "data", "empty_dir", "no <label>/<image>"),
    ("attribute", "data", "info", "not a folder"),
    ("attribute", "data", "model", "not a data folder"),
    ("attribute", "data", "cut_images", "none of the"),
    ("attribute", "model", "missing", "not found"),
    ("attribute", "model", "index", "a search index folder"),
    ("attribute", "model", "cut_model", "embedder.keras: damaged"),
    ("attribute", "out", "empty_dir", "is a folder"),
    # painter explain A B --model MODEL_DIR --png FILE
    ("explain", "jpg", "missing", "file not found"),
    ("explain", "jpg", "empty_file", "file is empty"),
    ("explain", "jpg", "empty_dir", "is a folder"),
    ("explain", "jpg2", "info", "not an image"),
    ("explain", "jpg2", "cut_jpg", "truncated"),
    ("explain", "model", "missing", "not found"),
    ("explain", "model", "index", "a search index folder"),
    ("explain", "model", "cut_model", "embedder.keras: damaged"),
    ("explain", "out", "empty_dir", "is a folder"),
]


def _argv(command, paths, out, replace=None, by=None):
    fill = {**paths, "out": out}
    if replace:
        fill[replace] = paths[by]
    return [a.format(**fill) for a in COMMANDS[command]]


def _state(path):
    """What is at ``path``: None, or every file below it with its size and time of change."""
    if not path.exists():
        return None
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    return {str(f): (f.stat().st_size, f.stat().st_mtime_ns) for f in files}


@pytest.mark.parametrize("command, replace, by, reason", CASES, ids=[" ".join(c[:3]) for c in CASES])
def test_a_bad_path_gives_one_line_and_no_output(paths, tmp_path, capsys, command, replace, by, reason):
    out = tmp_path / "out"
    bad = paths[by]
    before = _state(bad)
    code = main(_argv(command, paths, out, replace, by))
    err = capsys.readouterr().err
    assert code == 1, err
    assert len(err.splitlines()) == 1, err
    assert err.startswith(f"painter {command}: error: ") and str(bad) in err and reason in err, err
    assert not out.exists() and not list(tmp_path.rglob("*.part"))
    assert _state(bad) == before                     # an output folder given is left as it was


@pytest.mark.parametrize("command", COMMANDS)
def test_the_good_inputs_work(paths, tmp_path, capsys, command):
    """Each command succeeds with the table's inputs as they stand: a case fails for its one bad path."""
    assert main(_argv(command, paths, tmp_path / "out")) == 0, capsys.readouterr().err


@pytest.mark.parametrize("command, replace, by", [("submit", "info", "jpg"), ("predict-pair", "model", "classifier")])
def test_a_real_process_exits_1_with_one_line(paths, tmp_path, command, replace, by):
    """As a shell sees it: the exit code, one line on stderr (no traceback, no TensorFlow log)."""
    r = subprocess.run([sys.executable, "-m", "painter", *_argv(command, paths, tmp_path / "out", replace, by)],
                       capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": "default"})
    assert r.returncode == 1 and r.stderr.count("\n") == 1, r.stderr
    assert r.stderr.startswith(f"painter {command}: error: {paths[by]}: ") and not r.stdout


def test_debug_shows_the_traceback(paths, capsys):
    assert main(["--debug", "score", str(paths["jpg"]), str(paths["solution"])]) == 1
    err = capsys.readouterr().err
    assert err.startswith("Traceback (most recent call last):") and "InputError" in err
    assert err.splitlines()[-1].startswith(f"painter score: error: {paths['jpg']}: not a text CSV")


def test_a_bug_is_not_taken_for_bad_input(paths, monkeypatch):
    def bug(*_):
        return {}["all"]
    monkeypatch.setattr("painter.same_artist.submit.score_submission", bug)
    with pytest.raises(KeyError):
        main(["score", str(paths["submission"]), str(paths["solution"])])


def test_an_internal_value_error_keeps_its_traceback(paths, tmp_path):
    """A ValueError that is not painter's own (numpy's, scikit-learn's) is a bug, not a user's
    mistake: the process fails with its traceback, not with exit 1 and one line."""
    code = ("import sys\n"
            "import painter.same_artist.submit as submit\n"
            "def internal(*_):\n"
            "    raise ValueError('shapes (3,) and (4,) not aligned')\n"
            "submit.score_submission = internal\n"
            "from painter.cli import run\n"
            f"sys.argv = ['painter', 'score', {str(paths['submission'])!r}, {str(paths['solution'])!r}]\n"
            "raise SystemExit(run())\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 3   # neither done (0) nor bad input (1) nor a usage mistake (2)
    assert "Traceback (most recent call last):" in r.stderr and "in internal" in r.stderr
    assert r.stderr.strip().splitlines()[-1] == "ValueError: shapes (3,) and (4,) not aligned"
    assert "painter score: error" not in r.stderr


def test_usage_mistakes_exit_2(capsys):
    with pytest.raises(SystemExit) as e:
        main(["submit", "only-one-argument"])
    assert e.value.code == 2 and "usage:" in capsys.readouterr().err


@pytest.mark.parametrize("args, reason", [
    (["train", "{data}", "--out", "{out}", "--views", "1,x"], "--views 1,x: give scales >= 1, joined by ','"),
    (["train", "{data}", "--out", "{out}", "--views", "0"], "FeatureSpec.views: scales as integers >= 1"),
    (["train", "{data}", "--out", "{out}", "--method", "siamese", "--views", "1"],
     "--views: the siamese method fits a network on whole paintings"),
    (["explain", "{jpg}", "{jpg2}", "--model", "{model}", "--tiles", "--png", "{out}"],
     "tile maps need features with views"),
])
def test_view_options_refused_in_one_line(paths, tmp_path, capsys, args, reason):
    out = tmp_path / "out.png"
    code = main([a.format(**{**paths, "out": out}) for a in args])
    err = capsys.readouterr().err
    assert code == 1 and len(err.splitlines()) == 1 and reason in err, err
    assert not out.exists()


def test_earlier_outputs_survive_a_failed_run(paths, tmp_path):
    """train, index and submit refuse bad input before writing: an earlier output stays as it was."""
    model = _copy(paths["model"], tmp_path / "model")
    index = _copy(paths["index"], tmp_path / "index")
    sub = _copy(paths["submission"], tmp_path / "sub.csv")
    runs = [(model, ["train", "{cut_images}", "--out", str(model), *SMALL_ARGS]),
            (model, ["train", "{empty_dir}", "--out", str(model)]),
            (index, ["index", "{cut_data}", "--out", str(index), *SMALL_ARGS]),
            (sub, ["submit", "{model}", "{data}", "{cut_info}", "--out", str(sub)])]
    for out, argv in runs:
        before = _state(out)
        assert main([a.format(**paths) for a in argv]) == 1
        assert _state(out) == before, argv
    assert not list(tmp_path.rglob("*.part"))


def test_an_interrupted_submit_leaves_no_part_file(paths, tmp_path, monkeypatch):
    out = _copy(paths["submission"], tmp_path / "sub.csv")
    before = out.read_bytes()
    calls = []

    def interrupted(self, z, i, j):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return np.zeros(len(i), np.float32)
    monkeypatch.setattr("painter.same_artist.model.PairModel.score_pairs", interrupted)
    with pytest.raises(KeyboardInterrupt):
        submit(paths["model"], paths["data"], paths["info"], out, chunk_size=7, progress=False)
    assert len(calls) == 2 and out.read_bytes() == before and not list(tmp_path.glob("*.part"))


def test_weights_default_to_artists_where_the_backbones_have_them(capsys, tmp_path, monkeypatch):
    from painter.cli import build_parser
    from painter.commands import _spec
    from painter.features import DEFAULT_FEATURES, FeatureSpec

    def spec(*extra):
        return _spec(build_parser().parse_args(["train", "d", "--out", "o", *extra]))

    assert spec() == DEFAULT_FEATURES == FeatureSpec(weights="artists") == spec("--weights", "")
    assert spec("--backbone", "efficientnet_lite2") == FeatureSpec("efficientnet_lite2", weights="imagenet")
    assert spec("--weights", "imagenet") == FeatureSpec(weights="imagenet")
    lite02 = spec("--backbone", "efficientnet_lite0+efficientnet_lite2", "--image-size", "96")
    assert lite02 == FeatureSpec("efficientnet_lite0+efficientnet_lite2", 96, weights=("artists", "imagenet"))
    assert spec("--zoom", "2,1") == FeatureSpec(weights="artists", zoom=(2, 1)) and spec("--zoom", "1") == spec()
    assert spec("--weights", "imagenet", "--zoom", "3") == FeatureSpec(weights="imagenet", zoom=3)
    for bad, why in (("x", "--zoom x: give an integer >= 1"),
                     ("2,1,1", "FeatureSpec.zoom: an integer >= 1, or one per")):
        assert main(["train", "d", "--out", "o", "--zoom", bad]) == 1
        err = capsys.readouterr().err
        assert err.startswith(f"painter train: error: {why}") and err.count("\n") == 1
    h5 = tmp_path / "a.h5"
    h5.write_bytes(b"")
    monkeypatch.chdir(tmp_path)   # a relative path is kept absolute: the model's config is read from elsewhere
    assert spec("--backbone", "efficientnet_lite0", "--weights", "a.h5").weights == str(h5)
    assert spec("--weights", "a.h5,imagenet").weights == (str(h5), "imagenet")
    assert main(["train", "d", "--out", "o", "--backbone", "efficientnet_lite2", "--weights", "artists"]) == 1
    assert capsys.readouterr().err == ("painter train: error: efficientnet_lite2: no 'artists' weights (only "
                                       "efficientnet_lite0 and efficientnet_lite1 have them); use weights='imagenet'\n")
    assert main(["train", "d", "--out", "o", "--weights", "Imagenet,artists"]) == 1
    assert capsys.readouterr().err == ("painter train: error: --weights Imagenet: not 'artists', 'imagenet' or a "
                                       "weights file; give one entry per backbone, joined by ','\n")
