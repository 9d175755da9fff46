"""painter evaluate: a model's figures on a labelled collection."""
import shutil
import subprocess
import sys

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from painter.same_artist.evaluate import collection_pairs, evaluate, verdict_rates
from painter.same_artist.predict import load_pair_model, predict_pairs
from painter.same_artist.training import load_training_images


def test_verdict_rates_by_hand():
    same = np.array([1, 1, 1, 0, 0, 0, 0, 0])
    p = np.array([0.9, 0.6, 0.2, 0.7, 0.4, 0.1, 0.3, 0.05])
    r = verdict_rates(same, p, threshold=0.5)
    # same pairs: 2 of 3 at or above 0.5; different pairs: 4 of 5 below; AUC: 5 + 4 + 2 of 15 pairs ordered right
    assert r == {"pairs": 8, "same_pairs": 3, "auc": pytest.approx(11 / 15),
                 "balanced_accuracy": pytest.approx((2 / 3 + 4 / 5) / 2),
                 "same_called_same": pytest.approx(2 / 3), "different_called_different": pytest.approx(4 / 5)}
    assert verdict_rates(np.ones(3), np.ones(3), 0.5) == {"pairs": 3, "same_pairs": 3}


def test_collection_pairs_all_or_every_same_pair_and_a_sample():
    labels = np.array(list("aaabbbbccd"))
    i, j = collection_pairs(labels)
    assert len(i) == 45 and np.all(i < j)
    i, j = collection_pairs(labels, max_pairs=20, seed=0)
    same = labels[i] == labels[j]
    assert same.sum() == 3 + 6 + 1                     # every same-artist pair is kept
    assert np.all(i < j) and len(i) > same.sum()
    assert len(set(zip(i[same], j[same]))) == same.sum()


def test_evaluate_matches_the_pairs_scored_one_by_one(lda_model_dir, clean_dir, tmp_path):
    result = evaluate(clean_dir, model=lda_model_dir, progress=False)
    paths, labels = load_training_images(clean_dir)
    i, j = np.triu_indices(len(paths), 1)
    p = predict_pairs([(paths[a], paths[b]) for a, b in zip(i, j)], model=lda_model_dir)
    same = labels[i] == labels[j]
    threshold = load_pair_model(lda_model_dir).threshold
    assert result.summary["all"]["auc"] == pytest.approx(roc_auc_score(same, p), abs=1e-6)
    assert result.summary["all"]["same_called_same"] == pytest.approx((p[same] >= threshold).mean())
    assert result.summary["all"]["pairs"] == len(i) and result.summary["all"]["same_pairs"] == same.sum()
    # the model learned every artist it was trained on: all its pairs are "seen"
    assert result.summary["seen"]["pairs"] == len(i) and result.summary["unseen"] == {"pairs": 0, "same_pairs": 0}
    rows = result.artists.set_index("artist")
    assert rows.paintings.sum() == len(paths) and rows.known_to_model.all()
    assert rows.same_pairs.sum() == same.sum() and rows.different_pairs.sum() == 2 * (~same).sum()
    out = result.save(tmp_path / "eval")
    assert sorted(f.name for f in out.iterdir()) == ["artists.csv", "evaluation.json", "roc.png", "scores.png"]


def test_cli_evaluate_prints_the_figures(lda_model_dir, clean_dir, tmp_path):
    expected = evaluate(clean_dir, model=lda_model_dir, progress=False).summary["all"]
    out = subprocess.run([sys.executable, "-m", "painter", "evaluate", str(clean_dir), "--model", str(lda_model_dir)],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    row = next(line.split() for line in out.stdout.splitlines() if line.startswith("all"))
    assert row[3] == f"{expected['auc']:.3f}" and row[4] == f"{expected['balanced_accuracy']:.3f}"
    assert "context: none" in out.stdout


def test_evaluate_refuses_a_single_artist_and_names_unreadable_paintings(lda_model_dir, clean_dir, tmp_path):
    paths, labels = load_training_images(clean_dir)
    one = tmp_path / "one" / "Only_Artist"
    one.mkdir(parents=True)
    for p in paths[:3]:
        shutil.copy(p, one)
    out = subprocess.run([sys.executable, "-m", "painter", "evaluate", str(tmp_path / "one"), "--model",
                          str(lda_model_dir)], capture_output=True, text=True)
    assert out.returncode == 1 and out.stderr.strip().endswith("one artist only; evaluation needs paintings by two "
                                                               "artists or more")
    two = tmp_path / "two"
    shutil.copytree(one, two / "A")
    shutil.copytree(one, two / "B")
    (two / "B" / "broken.jpg").write_bytes(open(paths[0], "rb").read()[:300])
    with pytest.raises(ValueError, match=r"two: 1 of 7 paintings could not be read \(first .*broken\.jpg: truncated"):
        evaluate(two, model=lda_model_dir, progress=False)
