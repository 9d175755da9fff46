"""The split-training harness that chooses an attribution calibration (benchmarks/recipes/calibration_splits.py)."""
import shutil

import numpy as np
import pandas as pd
import pytest

from benchmarks.recipes.calibration_splits import (_ranked, _restricted, _smaller_references, choose_calibration,
                                           validation_queries)
from tests.test_attribution import _reference


def test_a_smaller_reference_drops_the_left_out_artists_questions_and_keeps_the_unknown_ones():
    rows, truth = _restricted(np.array([0, 2, 1, -1, 3]), np.array([1, 3]))
    assert rows.tolist() == [False, False, True, True, True] and truth.tolist() == [0, -1, 1]
    subsets = _smaller_references(20, (5, 30), draws=2, seed=0)
    assert [len(k) for k in subsets] == [20, 5, 5] and all((np.diff(k) > 0).all() for k in subsets)


def test_the_aggregate_is_chosen_over_every_reference_size_alike():
    # "max" is best on the whole references, "top5" on the mean over the whole and the smaller ones
    table = pd.DataFrame({"aggregate": ["max", "top5", "mean"], "balanced": [0.614, 0.611, 0.606],
                          "balanced@15": [0.725, 0.738, 0.736], "balanced@30": [0.678, 0.690, 0.684],
                          "balanced@70": [0.660, 0.664, 0.660], "nll": [1.6, 1.6, 1.7]})
    ranked = _ranked(table)
    assert ranked["aggregate"].tolist() == ["top5", "mean", "max"]
    assert ranked["balanced_sizes"][0] == pytest.approx((0.611 + 0.738 + 0.690 + 0.664) / 4)
    whole_only = _ranked(table.drop(columns=["balanced@15", "balanced@30", "balanced@70"]))
    assert whole_only["aggregate"].tolist() == ["max", "top5", "mean"]
    tie = _ranked(pd.DataFrame({"aggregate": ["a", "b"], "balanced": [0.6, 0.6], "nll": [1.2, 1.1]}))
    assert tie["aggregate"].tolist() == ["b", "a"]   # equal accuracy: the lower log loss


def test_validation_for_a_model_of_more_artists_keeps_the_stand_ins_unknown(clean_dir, paintings, tmp_path):
    """choose_calibration(also=...): the split models learn from the extra source too, but never
    from a held-out artist's painting nor from a copy of a questioned painting."""
    from painter.features import FeatureSpec
    from painter.same_artist.predict import load_pair_model
    from painter.same_artist.training import load_training_images
    paths, labels = load_training_images(clean_dir)
    ref, known, unknown = validation_queries(labels, 0)
    held = set(labels[unknown])
    extra = _reference(paintings, tmp_path / "extra", artists=tuple(sorted(set(labels))))   # held-out ones too
    (tmp_path / "extra" / "Somebody Else").mkdir()
    for k, f in enumerate(paintings[paintings.part == "test"]["file"].iloc[:6]):
        shutil.copy(f, tmp_path / "extra" / "Somebody Else" / f"{k}.jpg")
    shutil.copy(np.array(paths)[unknown][0], tmp_path / "extra" / "Somebody Else" / "held_out_copy.jpg")
    kwargs = {"method": "lda", "spec": FeatureSpec("efficientnet_lite0", 64), "pca_dim": 16}
    cal, table, _ = choose_calibration(clean_dir, tmp_path / "work", seeds=(0,), aggregates=("max",),
                                         train_kwargs=kwargs, also=[extra], reference_sizes=(3,), draws=2,
                                         progress=False)
    assert held and held <= {p.name for p in extra.iterdir()} and set(table["aggregate"]) == {"max"}
    assert "balanced@3" in table.columns and cal.none_size_slope != 0 and "by number of artists 3:" in cal.note
    assert table["balanced_sizes"][0] == pytest.approx((table["balanced"][0] + table["balanced@3"][0]) / 2)
    split = next((tmp_path / "work").glob("split0-*"))
    kept = pd.read_csv(split / "also" / "all_data_info.csv")
    assert not held & set(kept.artist) and "Somebody Else" in set(kept.artist)
    from painter.cache import content_key
    kept_contents = {content_key(p) for p in (split / "also" / "train").iterdir()}
    assert not {content_key(p) for p in np.array(paths)[np.concatenate([known, unknown])]} & kept_contents
    assert len(kept) > 6   # the rest of the extra source is kept
    learned = set(load_pair_model(split / "model").info["artists"])
    assert "Somebody Else" in learned and not held & learned
