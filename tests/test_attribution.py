import shutil
import subprocess
import sys

import numpy as np
import pytest

from painter import attribution as A
from painter.attribution.query import _model_calibration
from painter.cache import cache_dir
from painter.data.images import ImageError
from painter.errors import ParameterError

# the synthetic model's pair logits are about +15 within an artist and -16 across artists:
# P(one of them) = sigmoid(best artist's score), temperature 1
CAL = A.AttributionCalibration(aggregate="max", temperature=1.0, none_slope=1.0, none_bias=0.0, threshold=0.5)


def _reference(paintings, root, artists=("Artist 00", "Artist 01", "Artist 02")):
    """A folder per artist with copies of the artists' training paintings."""
    for row in paintings[(paintings.part == "train") & paintings.artist.isin(artists)].itertuples():
        (root / row.artist).mkdir(parents=True, exist_ok=True)
        shutil.copy(row.file, root / row.artist / row.file.name)
    return root


def _query(paintings, artist, part="test"):
    return paintings[(paintings.artist == artist) & (paintings.part == part)]["file"].iloc[0]


def test_group_scores_by_hand():
    S = np.array([[1.0, 3.0, 2.0, -1.0, 5.0]])   # artist 0: columns 0-2, artist 1: columns 3-4
    starts = [0, 3]
    assert A.group_scores(S, starts, "mean") == pytest.approx(np.array([[2.0, 2.0]]))
    assert A.group_scores(S, starts, "max") == pytest.approx(np.array([[3.0, 5.0]]))
    assert A.group_scores(S, starts, "top2") == pytest.approx(np.array([[2.5, 2.0]]))
    assert A.group_scores(S, starts, "top3") == pytest.approx(np.array([[2.0, 2.0]]))   # artist 1 has 2
    lme = np.log(np.mean(np.exp([1.0, 3.0, 2.0])))
    assert A.group_scores(S, starts, "lme")[0, 0] == pytest.approx(lme)
    with pytest.raises(ValueError, match="aggregate must be"):
        A.group_scores(S, starts, "median")


def test_faiss_neighbour_scores_match_the_exact_ones():
    rng = np.random.default_rng(0)
    Z = rng.normal(size=(600, 8)).astype(np.float32)
    ref = A.ReferenceSet(np.arange(600).astype(str), rng.integers(0, 30, 600).astype(str), Z, bias=-1.0)
    zq = rng.normal(size=(5, 8)).astype(np.float32)
    for how in ("mean", "max", "top3", "lme"):
        exact = A.group_scores(zq @ ref.Z.T - 1.0, ref.starts, how)
        assert np.abs(ref.scores(zq, how, neighbours=600) - exact).max() < 1e-4
        near = ref.scores(zq, how, neighbours=100)   # the best artists' best paintings are all retrieved
        assert (near.argmax(1) == exact.argmax(1)).all()
        if how != "lme":   # lme also reads the unretrieved paintings: imputed
            assert np.abs(near.max(1) - exact.max(1)).max() < 1e-4


@pytest.mark.parametrize("index_type", ["ivf", "hnsw", "ivfsq"])
def test_an_approximate_reference_answers_as_the_flat_one(index_type):
    # 40 artists x 30 paintings around their centres; a new painting of each of five of them
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(40, 16))
    codes = np.repeat(np.arange(40), 30)
    Z = (centres[codes] + 0.7 * rng.normal(size=(1200, 16))).astype(np.float32)
    files, names = np.arange(1200).astype(str), np.array([f"a{c:02d}" for c in codes])
    asked = [3, 17, 22, 30, 39]
    zq = (centres[asked] + 0.7 * rng.normal(size=(5, 16))).astype(np.float32)
    flat, ref = A.ReferenceSet(files, names, Z, -1.0), A.ReferenceSet(files, names, Z, -1.0, index_type=index_type)
    assert ref.index.ntotal == 1200 and (len(ref.store.vectors) == 0) == (index_type == "ivfsq")   # codes only
    # 8-bit codes: logits within their rounding; lme also reads the imputed unretrieved paintings
    tol = 0.1 if index_type == "ivfsq" else 1e-3
    for how in ("mean", "max", "top5", "lme"):
        # 1,024 of 1,200: every list probed, the three best artists as exact; 50: the index's own probes
        for neighbours, shown in ((1024, 3), (50, 1)):
            exact, near = flat.scores(zq, how, neighbours), ref.scores(zq, how, neighbours)
            best = np.argsort(-exact, 1)[:, :shown]
            assert (best[:, 0] == asked).all() and (np.argsort(-near, 1)[:, :shown] == best).all()
            assert np.abs(np.take_along_axis(near - exact, best, 1)).max() < tol
    # an index that finds fewer rows than asked pads with row -1: read as fewer, not as the last painting
    sims, ids = ref.store.search(zq, 100)
    pad = np.arange(100) >= 50
    for how in ("max", "top5", "lme"):
        ref.store.search = lambda q, k: (sims[:, :50], ids[:, :50])
        short = ref.scores(zq, how, 100)
        ref.store.search = lambda q, k: (np.where(pad, np.float32(-3.4e38), sims), np.where(pad, -1, ids))
        assert np.array_equal(ref.scores(zq, how, 100), short)
    del ref.store.search
    rows, logits = ref.best_matches(Z[100], 3)   # a reference painting asked: itself first
    assert rows[0] == 100 and list(rows) == list(flat.best_matches(Z[100], 3)[0])
    assert logits[0] == pytest.approx(Z[100] @ Z[100] - 1.0, abs=tol * 10)


def test_probabilities_sum_to_one_and_follow_the_prior():
    scores = np.array([[3.0, -1.0, 0.5], [-8.0, -9.0, -7.0]])
    p, none = A.probabilities(scores, CAL)
    assert p.sum(1) + none == pytest.approx([1.0, 1.0])
    assert none[0] < 0.1 < 0.9 < none[1] and p[0].argmax() == 0
    _, none_rare = A.probabilities(scores, CAL, prior_none=0.1)
    assert (none_rare < none).all()


def test_fit_attribution_calibration_separates_known_and_unknown():
    rng = np.random.default_rng(0)
    truth = np.concatenate([rng.integers(0, 10, 300), -np.ones(300, int)])
    scores = rng.normal(-4.0, 1.0, (600, 10))
    scores[np.arange(300), truth[:300]] += 6.0
    cal, m = A.fit_attribution_calibration(scores, truth, "max")
    assert 0.01 < cal.temperature < 100 and cal.none_slope > 0 and cal.threshold is None
    assert cal.none_size_slope == 0.0   # one reference size: nothing to learn about sizes
    assert m["top1"] > 0.95 and m["none_rate"] > 0.9 and m["n_known"] == m["n_unknown"] == 300
    fixed, mf = A.fit_attribution_calibration(scores, truth, "max", fixed_threshold=True)
    assert 0 < fixed.threshold < 1 and mf["threshold"] == fixed.threshold and mf["balanced"] >= m["balanced"] - 0.01
    assert A.attribution_metrics(*A.probabilities(scores, fixed), truth, fixed.threshold) == mf   # a bare threshold
    with pytest.raises(ValueError, match=r"reference 0: scores \(600, 10\) and truth \(599,\) do not match"):
        A.fit_attribution_calibration([scores], [truth[:-1]], "max")


def test_the_none_model_learns_that_more_artists_raise_an_unknown_painters_best_score():
    """References of 10 and 160 artists: an unknown painter's best score is the best of more draws
    in the larger one; a calibration fitted on both sizes reads the size (c < 0), and is right on both."""
    rng = np.random.default_rng(0)
    scores, truths = [], []
    for n, n_known in ((10, 300), (160, 60)):   # unequal cells: the weights even them out
        truth = np.concatenate([rng.integers(0, n, n_known), -np.ones(600, int)])
        s = rng.normal(-4.0, 1.0, (len(truth), n))
        s[np.arange(n_known), truth[:n_known]] += 5.0
        scores.append(s)
        truths.append(truth)
    cal, m = A.fit_attribution_calibration(scores, truths, "max")
    assert cal.none_size_slope < 0 and set(m) >= {"balanced", "balanced@10"}
    assert m["n_known"] == 60 and m["balanced"] > 0.9 and m["balanced@10"] > 0.9
    # fitted on the small references only, the none model answers "none" far less on the large one
    small, _ = A.fit_attribution_calibration(scores[0], truths[0], "max")
    _, none_small = A.probabilities(scores[1], small)
    _, none_sized = A.probabilities(scores[1], cal)
    unknown = truths[1] < 0
    assert small.answers_none(*A.probabilities(scores[1], small))[unknown].mean() < 0.8
    assert cal.answers_none(*A.probabilities(scores[1], cal))[unknown].mean() > 0.9
    assert none_sized[unknown].mean() > none_small[unknown].mean()


def test_the_temperature_can_be_fitted_on_every_reference_size_alike():
    """temperature_from="all": T between the whole references' and the smaller ones' own, the
    none model unchanged; with one size it is the whole references' T."""
    rng = np.random.default_rng(1)
    scores, truths = [], []
    for n, gap in ((160, 4.0), (10, 2.0)):   # the true artist stands out less on the small reference
        truth = np.concatenate([rng.integers(0, n, 300), -np.ones(300, int)])
        s = rng.normal(-4.0, 1.0, (len(truth), n))
        s[np.arange(300), truth[:300]] += gap
        scores.append(s)
        truths.append(truth)
    whole, _ = A.fit_attribution_calibration(scores, truths, "max")
    every, m = A.fit_attribution_calibration(scores, truths, "max", temperature_from="all")
    small, _ = A.fit_attribution_calibration(scores[1], truths[1], "max")
    assert min(whole.temperature, small.temperature) < every.temperature < max(whole.temperature, small.temperature)
    assert abs(every.temperature - whole.temperature) > 0.05 and "balanced@10" in m
    assert (every.none_slope, every.none_bias, every.none_size_slope) == (whole.none_slope, whole.none_bias,
                                                                          whole.none_size_slope)
    one, _ = A.fit_attribution_calibration(scores[0], truths[0], "max", temperature_from="all")
    assert one == A.fit_attribution_calibration(scores[0], truths[0], "max")[0]
    with pytest.raises(ParameterError, match="temperature_from must be 'whole' or 'all'"):
        A.fit_attribution_calibration(scores, truths, "max", temperature_from="every")


def test_the_answer_is_the_most_probable_outcome_or_a_fixed_threshold():
    p_art = np.array([[0.5, 0.1], [0.2, 0.1], [0.3, 0.3], [0.25, 0.5]])
    p_none = np.array([0.4, 0.7, 0.4, 0.5])
    # a tie answers "none"
    assert A.AttributionCalibration().answers_none(p_art, p_none).tolist() == [False, True, True, True]
    assert A.AttributionCalibration(threshold=0.5).answers_none(p_art, p_none).tolist() == [False, True, False, True]
    assert A.AttributionCalibration().describe() == "the most probable outcome"
    assert A.AttributionCalibration(threshold=0.34).describe() == "'none' from P(none) 0.34"
    for bad in ({"threshold": 1.5}, {"temperature": 0.0}, {"aggregate": "median"}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            A.AttributionCalibration(**bad)


def test_attribute_ranks_the_painter_first_with_evidence(lda_model_dir, paintings, tmp_path):
    ref_dir = _reference(paintings, tmp_path / "reference")
    table = A.attribute(_query(paintings, "Artist 01"), ref_dir, model=lda_model_dir, k=5, calibration=CAL)
    assert table["artist"].tolist()[0] == "Artist 01" and table.attrs["answer"] == "Artist 01"
    assert not table.attrs["none"]
    assert table["rank"].tolist() == [1, 2, 3, 0] and table["artist"].iloc[-1] == A.NONE  # 3 artists + none
    assert table["probability"].sum() == pytest.approx(1.0)
    counts = {a: len(list((ref_dir / a).iterdir())) for a in ("Artist 00", "Artist 01", "Artist 02")}
    assert dict(zip(table["artist"][:3], table["n_reference"][:3])) == counts
    for row in table.iloc[:3].itertuples():
        assert len(row.best_matches) == 3 and all(f.startswith(str(ref_dir / row.artist)) for f in row.best_matches)
    # a copy of one reference painting (outside the reference): that painting is the first evidence
    original = sorted((ref_dir / "Artist 02").iterdir())[1]
    copy = tmp_path / "copy.jpg"
    shutil.copy(original, copy)
    table = A.attribute(copy, ref_dir, model=lda_model_dir, calibration=CAL)
    assert table["artist"][0] == "Artist 02" and table["best_matches"][0][0] == str(original)
    png = A.plot_attribution(table, tmp_path / "attribution.png")
    assert png.is_file() and png.stat().st_size > 10_000


def test_attribute_answers_none_for_a_painter_outside_the_reference(lda_model_dir, paintings, tmp_path):
    ref_dir = _reference(paintings, tmp_path / "reference")
    table = A.attribute(_query(paintings, "Artist 05"), ref_dir, model=lda_model_dir, calibration=CAL)
    assert table.attrs["none"] and table.attrs["answer"] == A.NONE
    assert table.attrs["p_none"] == table["probability"].iloc[-1] > 0.5
    assert table["probability"].sum() == pytest.approx(1.0)


def test_unreadable_reference_is_skipped_and_bad_query_is_one_line(lda_model_dir, paintings, tmp_path):
    ref_dir = _reference(paintings, tmp_path / "reference")
    good = sorted((ref_dir / "Artist 00").iterdir())[0]
    (ref_dir / "Artist 00" / "truncated.jpg").write_bytes(good.read_bytes()[:300])
    (ref_dir / "Artist 01" / "notes.jpg").write_text("not a painting")
    ref = A.load_reference(ref_dir, lda_model_dir, progress=False)
    reasons = dict(zip(ref.skipped["file"], ref.skipped["reason"]))
    assert set(reasons) == {str(ref_dir / "Artist 00" / "truncated.jpg"), str(ref_dir / "Artist 01" / "notes.jpg")}
    assert "truncated" in reasons[str(ref_dir / "Artist 00" / "truncated.jpg")]
    table = A.attribute(_query(paintings, "Artist 00"), ref, model=lda_model_dir, calibration=CAL)
    assert table["artist"][0] == "Artist 00" and len(table.attrs["skipped"]) == 2
    with pytest.raises(ImageError, match=r"nope\.jpg: file not found"):
        A.attribute(tmp_path / "nope.jpg", ref, model=lda_model_dir)
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(good.read_bytes()[:300])
    with pytest.raises(ImageError, match=r"broken\.jpg: truncated") as err:
        A.attribute(broken, ref, model=lda_model_dir)
    assert "\n" not in str(err.value)


def _count_builds(monkeypatch):
    """The reference sets ``_embed_reference`` builds from now on, in a list."""
    built, embed = [], A.reference._embed_reference
    monkeypatch.setattr(A.reference, "_embed_reference", lambda *a: built.append(embed(*a)) or built[-1])
    return built


def _tinted_reference(paintings, root):
    """``_reference``'s paintings with a colour cast, as a museum's photographs have: another source
    than the model's training paintings, which the context moves the model towards."""
    from PIL import Image
    _reference(paintings, root)
    for f in root.rglob("*.jpg"):
        rgb = np.asarray(Image.open(f).convert("RGB"), np.float32) * [1.0, 0.8, 0.55] + [40, 25, 0]
        Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8)).save(f, quality=90)
    return root


def test_with_context_the_reference_set_is_built_once_by_the_adapted_model(lda_model_dir, paintings, tmp_path,
                                                                            monkeypatch):
    from painter.same_artist.context import CollectionContext
    from painter.same_artist.predict import load_pair_model
    ref_dir = _tinted_reference(paintings, tmp_path / "reference")
    model = load_pair_model(lda_model_dir)
    built = _count_builds(monkeypatch)
    table = A.attribute(_query(paintings, "Artist 01"), ref_dir, model=model, calibration=CAL)
    adapted = CollectionContext.cached(A.reference._reference_files(ref_dir)[0]).adapt(model)   # the one kept
    assert A.model_fingerprint(adapted) != A.model_fingerprint(model)   # the context moved the model
    assert len(built) == 1 and built[0].model_key == A.model_fingerprint(adapted)   # not first by the model as given
    assert (cache_dir() / "references" / built[0].key).is_dir() and table["artist"][0] == "Artist 01"
    A.attribute(_query(paintings, "Artist 02"), ref_dir, model=model, calibration=CAL)
    assert len(built) == 1                                               # the next question: the same set
    # without context: one set too, by the model as given
    A.reference._loaded_refs.clear()
    table = A.attribute(_query(paintings, "Artist 01"), ref_dir, model=model, calibration=CAL, context=False)
    assert len(built) == 2 and built[1].model_key == A.model_fingerprint(model) and built[1].key != built[0].key
    assert table["artist"][0] == "Artist 01"


def test_with_context_an_unreadable_reference_painting_is_named_once(lda_model_dir, paintings, tmp_path, caplog):
    import warnings
    ref_dir = _reference(paintings, tmp_path / "reference")
    good = sorted((ref_dir / "Artist 00").iterdir())[0]
    (ref_dir / "Artist 00" / "truncated.jpg").write_bytes(good.read_bytes()[:300])
    (ref_dir / "Artist 01" / "notes.jpg").write_text("not a painting")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table = A.attribute(_query(paintings, "Artist 00"), ref_dir, model=lda_model_dir, calibration=CAL)
    assert set(table.attrs["skipped"]["file"]) == {str(ref_dir / "Artist 00" / "truncated.jpg"),
                                                   str(ref_dir / "Artist 01" / "notes.jpg")}
    said = caplog.text + "".join(str(w.message) for w in caught)
    assert said.count("truncated.jpg") == 1 and said.count("notes.jpg") == 1, said


def test_with_context_a_bad_reference_is_refused_in_one_line_before_any_reading(lda_model_dir, paintings, tmp_path,
                                                                                monkeypatch):
    import copy

    from painter.errors import InputError
    from painter.same_artist.context import CollectionContext
    from painter.same_artist.predict import load_pair_model
    monkeypatch.setattr(CollectionContext, "features", lambda *a, **k: pytest.fail("the context was read first"))
    monkeypatch.setattr(A.reference, "_embed_reference", lambda *a: pytest.fail("the reference was embedded first"))
    query = _query(paintings, "Artist 00")
    with pytest.raises(InputError) as err:
        A.attribute(query, tmp_path / "nowhere", model=lda_model_dir)
    assert str(tmp_path / "nowhere") in str(err.value) and "\n" not in str(err.value)
    ref_dir = _reference(paintings, tmp_path / "reference")
    with pytest.raises(ParameterError, match="index_type must be one of"):
        A.attribute(query, ref_dir, model=lda_model_dir, index_type="pq")
    head = copy.copy(load_pair_model(lda_model_dir))
    head.scorer = "head"
    with pytest.raises(ParameterError, match="needs a model with the 'dot' scorer"):
        A.attribute(query, ref_dir, model=head)


def test_reference_cache_is_reused_refreshed_and_repaired(lda_model_dir, paintings, tmp_path, monkeypatch):
    from painter.same_artist.predict import PACKAGED_MODEL, load_pair_model
    ref_dir = _reference(paintings, tmp_path / "reference")
    model = load_pair_model(lda_model_dir)
    first = A.load_reference(ref_dir, model, progress=False)
    assert A.load_reference(ref_dir, model, progress=False) is first          # in memory
    folder = cache_dir() / "references" / first.key
    assert (folder / "config.json").is_file() and (folder / "index.faiss").is_file()
    A.reference._loaded_refs.clear()
    monkeypatch.setattr(type(model), "embed_files", lambda *a, **k: pytest.fail("re-embedded a cached reference"))
    again = A.load_reference(ref_dir, model, progress=False)                   # from disk, no embedding
    assert again.key == first.key and np.array_equal(again.Z, first.Z) and list(again.files) == list(first.files)
    monkeypatch.undo()
    # damaged: rebuilt; stale (a painting added): a new set with it
    blob = (folder / "index.faiss").read_bytes()
    (folder / "index.faiss").write_bytes(blob[: len(blob) // 2])
    A.reference._loaded_refs.clear()
    assert np.allclose(A.load_reference(ref_dir, model, progress=False).Z, first.Z, atol=1e-5)
    extra = ref_dir / "Artist 03" / "new.jpg"
    extra.parent.mkdir()
    shutil.copy(_query(paintings, "Artist 03", "train"), extra)
    grown = A.load_reference(ref_dir, model, progress=False)
    assert grown.key != first.key and len(grown) == len(first) + 1 and "Artist 03" in grown.artists
    other = load_pair_model(PACKAGED_MODEL)
    with pytest.raises(ValueError, match="embedded by another model"):
        A.attribute(_query(paintings, "Artist 00"), grown, model=other)


def test_an_ivfsq_reference_round_trips_is_repaired_and_answers_on_the_cli(lda_model_dir, paintings, tmp_path,
                                                                           monkeypatch, caplog, capsys):
    import json

    from painter.cli import main
    from painter.errors import InputError
    from painter.same_artist.predict import load_pair_model
    ref_dir = _reference(paintings, tmp_path / "reference")
    model = load_pair_model(lda_model_dir)
    flat = A.load_reference(ref_dir, model, progress=False)
    ref = A.load_reference(ref_dir, model, progress=False, index_type="ivfsq")
    folder = cache_dir() / "references" / ref.key
    assert ref.key != flat.key and json.loads((folder / "config.json").read_text())["index_type"] == "ivfsq"
    assert not (folder / "vectors.npy").exists() and list(ref.files) == list(flat.files)   # codes only
    zq = flat.Z[[0, -1]]
    for how in ("mean", "top5"):
        assert (ref.scores(zq, how).argmax(1) == flat.scores(zq, how).argmax(1)).all()
        assert np.abs(ref.scores(zq, how) - flat.scores(zq, how)).max() < 0.5   # 8-bit rounding of 64-wide z
    A.reference._loaded_refs.clear()
    monkeypatch.setattr(type(model), "embed_files", lambda *a, **k: pytest.fail("re-embedded a cached reference"))
    again = A.load_reference(ref_dir, model, progress=False, index_type="ivfsq")   # from disk, no embedding
    assert again is not ref and again.key == ref.key and list(again.files) == list(ref.files)
    assert np.array_equal(again.scores(zq, "top5"), ref.scores(zq, "top5")) and np.array_equal(again.Z, ref.Z)
    monkeypatch.undo()
    blob = bytearray((folder / "index.faiss").read_bytes())   # one byte of the codes changed
    blob[-100] ^= 0xFF
    (folder / "index.faiss").write_bytes(bytes(blob))
    with pytest.raises(InputError, match=r"index\.faiss: damaged or not the expected file \(checksum differs"):
        A.ReferenceSet.load(folder, ref.key)
    A.reference._loaded_refs.clear()
    rebuilt = A.load_reference(ref_dir, model, progress=False, index_type="ivfsq")
    assert f"{folder / 'index.faiss'}: damaged" in caplog.text
    assert np.array_equal(rebuilt.Z, ref.Z) and A.ReferenceSet.load(folder, ref.key).index.ntotal == len(ref)
    with pytest.raises(ParameterError, match="index_type must be one of flat, ivf, hnsw, ivfsq, got 'pq'"):
        A.load_reference(ref_dir, model, index_type="pq")
    query = _query(paintings, "Artist 02")
    shutil.rmtree(folder)
    A.reference._loaded_refs.clear()
    assert main(["attribute", str(query), "--reference", str(ref_dir), "--model", str(lda_model_dir),
                 "--index-type", "ivfsq", "--no-context"]) == 0
    assert not (folder / "vectors.npy").exists() and (folder / "config.json").is_file()   # the CLI built it
    assert capsys.readouterr().out.splitlines()[1].split()[:3] == ["1", "Artist", "02"]   # the first candidate
    assert A.attribute(query, ref, model=model, calibration=CAL)["artist"][0] == "Artist 02"


def test_cli_attribute(lda_model_dir, paintings, tmp_path, capsys):
    from painter.cli import main
    ref_dir = _reference(paintings, tmp_path / "reference")
    query = _query(paintings, "Artist 02")
    assert main(["attribute", str(query), "--reference", str(ref_dir), "--model", str(lda_model_dir), "-k", "2",
                 "--png", str(tmp_path / "a.png")]) == 0
    out = capsys.readouterr().out
    assert "Artist 02" in out and A.NONE in out and (tmp_path / "a.png").is_file()
    assert "answer: " in out and "; 'none' from P(none) 0.34)" in out   # DEFAULT_CALIBRATION's rule
    # a model folder whose calibration answers the most probable outcome
    folder = shutil.copytree(lda_model_dir, tmp_path / "m")
    A.AttributionCalibration(aggregate="max", temperature=1.0, none_slope=1.0, none_bias=0.0).save(folder)
    assert main(["attribute", str(query), "--reference", str(ref_dir), "--model", str(folder)]) == 0
    assert "; the most probable outcome)" in capsys.readouterr().out
    unknown = A.attribute(_query(paintings, "Artist 05"), ref_dir, model=folder)
    assert unknown.attrs["threshold"] is None and unknown.attrs["answer"] == A.NONE
    assert unknown.attrs["p_none"] >= unknown["probability"][:-1].max()
    # an unreadable reference painting is named once, on the command's output
    (ref_dir / "Artist 01" / "notes.jpg").write_text("not a painting")
    assert main(["attribute", str(query), "--reference", str(ref_dir), "--model", str(lda_model_dir)]) == 0
    said = capsys.readouterr()
    assert (said.out + said.err).count("notes.jpg") == 1 and "1 reference paintings skipped: " in said.out
    r = subprocess.run([sys.executable, "-m", "painter", "attribute", str(tmp_path / "missing.jpg"), "--reference",
                        str(ref_dir), "--model", str(lda_model_dir)], capture_output=True, text=True)
    assert r.returncode == 1
    assert r.stderr.strip().splitlines()[-1] == f"painter attribute: error: {tmp_path / 'missing.jpg'}: file not found"


def test_a_model_folder_calibration_serves_its_path_and_its_loaded_model(lda_model_dir, tmp_path):
    from painter.same_artist.predict import load_pair_model
    folder = shutil.copytree(lda_model_dir, tmp_path / "m")
    assert _model_calibration(folder) == A.DEFAULT_CALIBRATION == _model_calibration(load_pair_model(folder))
    CAL.save(folder)
    assert _model_calibration(folder) == CAL == _model_calibration(load_pair_model(folder))
    # a file written before the size term: read with none_size_slope 0, its threshold kept
    import json
    (folder / "attribution.json").write_text(json.dumps({"aggregate": "top3", "temperature": 6.3, "none_slope": 0.03,
                                                         "none_bias": -0.9, "threshold": 0.38, "note": "old"}))
    old = _model_calibration(folder)
    assert old.none_size_slope == 0.0 and old.threshold == 0.38 and old.aggregate == "top3"


def test_the_packaged_calibration_reads_the_reference_size():
    from painter.same_artist.predict import PACKAGED_MODEL
    cal = _model_calibration(PACKAGED_MODEL)
    assert cal.threshold is None and cal.none_size_slope < 0 and cal != A.DEFAULT_CALIBRATION
    # the same best score means "none" more often against more reference artists
    best = np.full((1, 30), -2.0)
    best[0, 0] = 40.0
    wide = np.pad(best, ((0, 0), (0, 145)), constant_values=-2.0)
    assert A.probabilities(wide, cal)[1][0] > A.probabilities(best, cal)[1][0]
