import numpy as np
import pandas as pd
import pytest

from painter.classify import find_outliers, predict_files, train_classifier
from painter.data.images import ImageError
from painter.features import FeatureSpec
from painter.metrics import retrieval_metrics
from painter.search import SimilarityIndex, build_index_from_data


@pytest.mark.parametrize("kind", ["dense", "cnn_rnn"])
def test_classifier_beats_chance_and_reports_every_class(clean_dir, tmp_path, kind):
    import shutil
    data = tmp_path / "data"
    shutil.copytree(clean_dir, data)
    broken = sorted((data / "train").glob("*.jpg"))[0]
    broken.write_bytes(broken.read_bytes()[:300])       # truncated: must be listed, not used
    s = train_classifier(data, tmp_path, target="artist", head=kind, spec=FeatureSpec("efficientnet_lite0", 64),
                         epochs=30, test=0.3, val=0.0, progress=False)
    assert list(s["excluded"]["unusable_images"]) == [str(broken)]
    assert s["n_classes"] == 6
    assert s["top1"] > 1 / 6 + 0.15, s["top1"]
    assert {f"Artist {k:02d}" for k in range(6)} <= set(s["report"])
    assert (tmp_path / "confusion.png").is_file() and (tmp_path / "outliers.csv").is_file()
    some = sorted((clean_dir / "test").glob("*.jpg"))[:2]
    preds = predict_files(tmp_path, some, top=2)
    assert list(preds) == [str(p) for p in some] and all(len(v) == 2 for v in preds.values())
    with pytest.raises(ImageError, match="file not found"):
        predict_files(tmp_path, [clean_dir / "nope.jpg"])


def test_genre_excludes_and_counts_unlabelled(clean_dir, tmp_path):
    s = train_classifier(clean_dir, tmp_path, target="genre", spec=FeatureSpec("efficientnet_lite0", 64), epochs=3,
                         test=0.3, val=0.0, progress=False)
    info = pd.read_csv(clean_dir / "all_data_info.csv", keep_default_na=False)
    on_disk = {p.name for p in (clean_dir / "train").iterdir()}
    expected = ((info.genre == "") & info.in_train & info.new_filename.isin(on_disk)).sum()
    assert s["excluded"]["unlabelled"] == expected > 0
    assert "" not in s["report"]


def test_outliers_are_ordered():
    proba = np.array([[0.9, 0.1], [0.4, 0.6], [0.2, 0.8], [0.7, 0.3]])
    out = find_outliers(["a", "b", "c", "d"], np.array([1, 0, 0, 0]), proba, ["x", "y"])
    assert out["file"].tolist() == ["a", "c", "b"]     # ratios 0.111, 0.25, 0.667
    assert np.all(np.diff(out["ratio"]) >= 0)


def test_retrieval_metrics_by_hand():
    v = np.array([[1, 0], [0.9, 0.1], [0, 1], [0.1, 0.9]], np.float32)
    m = retrieval_metrics(v, ["a", "a", "b", "a"], ks=(1, 2))
    # query 0: ranking 1(a) 3(a) 2(b) -> P@1 1, P@2 1, R@2 1, RR 1, AP 1
    # query 1: 0(a) 3(a) 2(b) -> same as query 0
    # query 2 (b): no other b -> skipped
    # query 3: 2(b) 1(a) 0(a) -> P@1 0, P@2 .5, R@2 .5, RR .5, AP (1/2 + 2/3)/2
    assert m["queries"] == 3
    assert m["precision@1"] == pytest.approx(2 / 3) and m["precision@2"] == pytest.approx(2.5 / 3)
    assert m["recall@2"] == pytest.approx(2.5 / 3) and m["mrr"] == pytest.approx(2.5 / 3)
    assert m["map"] == pytest.approx((2 + (0.5 + 2 / 3) / 2) / 3)
    assert m["self_retrieval@1"] == 1.0
    # only query 3 asks (e.g. an unseen artist); items 0..2 are still searched
    m3 = retrieval_metrics(v, ["a", "a", "b", "a"], ks=(1, 2), queries=np.array([False, False, False, True]))
    assert m3["queries"] == 1 and m3["precision@1"] == 0.0 and m3["mrr"] == pytest.approx(0.5)
    assert m3["map"] == pytest.approx((0.5 + 2 / 3) / 2)
    with pytest.raises(ValueError, match="labels has 3 items"):
        retrieval_metrics(v, ["a", "a", "b"])


@pytest.mark.parametrize("index_type", ["flat", "hnsw", "ivf", "ivfsq"])
def test_index_roundtrip_add_and_bad_query(clean_dir, tmp_path, index_type):
    spec = FeatureSpec("efficientnet_lite0", 224)
    index = build_index_from_data(clean_dir, tmp_path / "idx", index_type=index_type, spec=spec, progress=False)
    query = index.metadata["file"][0]
    before = index.query_file(query, k=5)
    loaded = SimilarityIndex.load(tmp_path / "idx")
    assert loaded.spec == spec     # the index knows which features built it
    after = loaded.query_file(query, k=5)
    assert before["file"].tolist() == after["file"].tolist() and query not in after["file"].tolist()
    assert set(after.columns) >= {"rank", "score", "file", "artist", "style", "artist_in_train"}
    # the painting the cleaning could not write is listed, not silently dropped
    skipped = pd.read_csv(tmp_path / "idx" / "skipped.csv")
    assert len(skipped) == 1 and skipped["reason"][0].startswith("file not found")
    n = len(loaded.metadata)
    extra = tmp_path / "new.jpg"
    extra.write_bytes(open(query, "rb").read())
    loaded.add([extra], pd.DataFrame({"artist": ["copy"], "style": ["x"]}), progress=False)
    assert len(loaded.metadata) == n + 1 and loaded.index.ntotal == n + 1
    assert loaded.query_file(query, k=1)["file"][0] == str(extra)   # its exact copy is nearest
    with pytest.raises(ImageError, match="file not found"):
        loaded.query_file(tmp_path / "missing.jpg")


def test_index_of_a_folder_per_artist_tree(clean_dir, tmp_path):
    """`painter index` on root/<artist>/<image>: every painting indexed with its artist."""
    import shutil
    info = pd.read_csv(clean_dir / "all_data_info.csv", keep_default_na=False)
    info = info[info.in_train & info.new_filename.isin({p.name for p in (clean_dir / "train").iterdir()})]
    root = tmp_path / "tree"
    for row in info.head(12).itertuples():
        (root / row.artist).mkdir(parents=True, exist_ok=True)
        shutil.copy(clean_dir / "train" / row.new_filename, root / row.artist / row.new_filename)
    from painter.cli import main
    assert main(["index", str(root), "--out", str(tmp_path / "idx"), "--backbone", "efficientnet_lite0",
                 "--image-size", "64"]) == 0
    loaded = SimilarityIndex.load(tmp_path / "idx")
    assert len(loaded.metadata) == 12 and loaded.index.ntotal == 12
    expected = {str(root / r.artist / r.new_filename): r.artist for r in info.head(12).itertuples()}
    assert dict(zip(loaded.metadata["file"], loaded.metadata["artist"])) == expected
    assert loaded.spec == FeatureSpec("efficientnet_lite0", 64, weights="artists")   # the CLI default for Lite0


def test_cnn_rnn_maps_come_from_the_specs_weights(clean_dir):
    from painter.classify import _feature_maps
    paths = sorted((clean_dir / "train").glob("*.jpg"))[:2]
    maps = {w: _feature_maps(paths, FeatureSpec("efficientnet_lite0", 64, weights=w))[0]
            for w in ("imagenet", "artists")}
    assert maps["imagenet"].shape == maps["artists"].shape == (2, 4, 1280)
    assert not np.allclose(maps["imagenet"], maps["artists"], atol=1e-2)   # the top stages differ


def test_a_compressed_index_filled_in_chunks_is_the_one_filled_at_once(clean_dir, tmp_path, monkeypatch):
    import faiss
    from painter import vector_store
    spec = FeatureSpec("efficientnet_lite0", 64)
    whole = build_index_from_data(clean_dir, tmp_path / "whole", index_type="ivfsq", spec=spec, progress=False)
    embedded = []
    embed = SimilarityIndex._embed
    monkeypatch.setattr(SimilarityIndex, "_embed", lambda self, paths, progress=False: (
        embedded.append(len(paths)), embed(self, paths, progress))[1])
    monkeypatch.setattr(vector_store, "FILL_CHUNK", 7)
    chunked = build_index_from_data(clean_dir, tmp_path / "chunked", index_type="ivfsq", spec=spec, progress=False)
    # 80 paintings: 2 lists trained on a sample of 39 each, then filled 7 at a time
    assert len(whole.metadata) == 80 and faiss.extract_index_ivf(whole.index).nlist == 2
    assert embedded == [78] + [7] * 11 + [3]
    pd.testing.assert_frame_equal(chunked.metadata, whole.metadata)
    assert faiss.serialize_index(chunked.index).tobytes() == faiss.serialize_index(whole.index).tobytes()
    assert not (tmp_path / "chunked" / "vectors.npy").exists()   # codes only: no float32 copy
    loaded = SimilarityIndex.load(tmp_path / "chunked")
    query = whole.metadata["file"][3]
    pd.testing.assert_frame_equal(loaded.query_file(query, k=5), whole.query_file(query, k=5), check_dtype=False)


def test_the_compressed_index_rotates_heavy_tailed_vectors_before_quantising():
    import faiss
    from painter.compressed_index import ROTATE_MAX, compressed_index, n_lists
    # 512-wide unit vectors, one value in 500 sixty times the others: each dimension's 8-bit range
    # is set by a few paintings, as in the packaged model's embeddings
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3100, 512)).astype(np.float32)
    x += 60 * rng.normal(size=x.shape).astype(np.float32) * (rng.random(x.shape) < 0.002)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    queries, base = x[:100], x[100:]
    exact = faiss.IndexFlatIP(512)
    exact.add(base)
    truth = exact.search(queries, 10)[1]

    def recall(index):   # every list probed: what is lost is the quantiser's
        index.train(base)
        index.add(base)
        faiss.extract_index_ivf(index).nprobe = n_lists(len(base))
        return np.mean([len(set(f) & set(t)) / 10 for f, t in zip(index.search(queries, 10)[1], truth)])

    rotated = recall(compressed_index(512, len(base)))
    unrotated = recall(faiss.index_factory(512, f"IVF{n_lists(len(base))},SQ8", faiss.METRIC_INNER_PRODUCT))
    assert rotated >= 0.98 and unrotated < rotated - 0.015
    wider = compressed_index(ROTATE_MAX + 1, 10**6)   # wider: unrotated, zeros padded to a multiple of 16
    assert isinstance(faiss.downcast_VectorTransform(wider.chain.at(0)), faiss.RemapDimensionsTransform)


def test_the_compressed_index_pads_its_codes_to_a_multiple_of_16_values_and_answers_at_the_width_given():
    import faiss
    from painter.compressed_index import compressed_index
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2000, 1315)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    for dim, index in ((1315, compressed_index(1315, len(x))), (17, compressed_index(17, len(x)))):
        v = np.ascontiguousarray(x[:, :dim] / np.linalg.norm(x[:, :dim], axis=1, keepdims=True))
        index.train(v)
        index.add(v)
        faiss.extract_index_ivf(index).nprobe = faiss.extract_index_ivf(index).nlist
        assert index.d == dim and faiss.extract_index_ivf(index).d == -(-dim // 16) * 16   # 1328, 32
        scores, rows = index.search(v[:5], 1)
        assert rows[:, 0].tolist() == [0, 1, 2, 3, 4] and np.allclose(scores[:, 0], 1, atol=0.02)
        assert index.reconstruct_n(0, 3).shape == (3, dim)
