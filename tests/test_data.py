import numpy as np
import pandas as pd
import pytest

from painter.data import datagenerator, flatten, make_pairs, readdatainfo, readfolders, reducedictrandom, splitdict

from .conftest import PBN_REAL, needs_pbn_real


@pytest.fixture
def csv(tmp_path):
    rows = [("A", "x.jpg", "True", "portrait"), ("A", "y.jpg", "True", ""), ("B", "z.jpg", "False", "landscape"),
            ("B", "w.jpg", "True", "landscape"), ("C", "v.jpg", "True", "portrait")]
    df = pd.DataFrame(rows, columns=["artist", "new_filename", "in_train", "genre"])
    path = tmp_path / "all_data_info.csv"
    df.to_csv(path, index=False)
    return path


def test_readdatainfo_groups_sorted(csv):
    d = readdatainfo(csv)
    assert d == {"A": ["x.jpg", "y.jpg"], "B": ["w.jpg", "z.jpg"], "C": ["v.jpg"]}
    assert list(d) == ["A", "B", "C"]


def test_readdatainfo_in_train_and_label(csv):
    assert readdatainfo(csv, in_train=False) == {"B": ["z.jpg"]}
    g = readdatainfo(csv, label="genre")
    assert g == {"landscape": ["w.jpg", "z.jpg"], "portrait": ["v.jpg", "x.jpg"]} and g.unlabelled == ["y.jpg"]


def test_readdatainfo_images_dir_reports_missing(csv, tmp_path):
    imgs = tmp_path / "imgs"
    imgs.mkdir()
    for n in ("x.jpg", "z.jpg"):
        (imgs / n).write_bytes(b"x")
    with pytest.warns(UserWarning, match="3 of 5 files"):
        d = readdatainfo(csv, images_dir=imgs)
    assert d == {"A": ["x.jpg"], "B": ["z.jpg"]} and d.missing == ["v.jpg", "w.jpg", "y.jpg"]


def test_readdatainfo_bad_inputs(tmp_path, csv):
    with pytest.raises(FileNotFoundError, match="nope.csv"):
        readdatainfo(tmp_path / "nope.csv")
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="bad.csv: no 'new_filename' or 'filename' column"):
        readdatainfo(bad)
    with pytest.raises(ValueError, match="no 'style' column"):
        readdatainfo(csv, label="style")


def test_read_kaggle_csv_names_a_missing_required_column(tmp_path):
    from painter.data.kaggle import read_kaggle_csv
    labels = tmp_path / "labels.csv"
    labels.write_text("new_filename,artist\nx.jpg,A\n")
    with pytest.raises(ValueError,
                       match=r"labels.csv: no column in_train \(has new_filename, artist\); expected Kaggle's"):
        read_kaggle_csv(labels, required=("artist", "in_train"))


@needs_pbn_real
def test_readdatainfo_real_kaggle_counts():
    d = readdatainfo(PBN_REAL / "all_data_info.csv")
    assert len(d) == 2319 and d.n_images == 103250
    t = readdatainfo(PBN_REAL / "all_data_info.csv", in_train=True)
    assert len(t) == 2074 and t.n_images == 79433
    labels = readdatainfo(PBN_REAL / "train_info.csv")   # the competition's own (hashed) labels
    assert len(labels) == 1584 and labels.n_images == 79433


def test_readfolders(tmp_path):
    for artist, files in {"Monet": ["a.jpg", "b.png"], "Degas": ["c.jpg"], "empty": []}.items():
        (tmp_path / artist).mkdir()
        for f in files:
            (tmp_path / artist / f).write_bytes(b"x")
    (tmp_path / "Monet" / "notes.txt").write_text("x")
    assert readfolders(tmp_path) == {"Degas": ["Degas/c.jpg"], "Monet": ["Monet/a.jpg", "Monet/b.png"]}
    with pytest.raises(ValueError, match="no <label>/<image>"):
        readfolders(tmp_path / "empty")


def test_reducedictrandom():
    d = {"a": [f"a{i}" for i in range(5)], "b": [f"b{i}" for i in range(3)], "c": ["c0", "c1"]}
    r = reducedictrandom(d)
    assert {k: len(v) for k, v in r.items()} == {"a": 2, "b": 2, "c": 2}
    assert set(r["a"]) <= set(d["a"])
    assert reducedictrandom(d, seed=3) == reducedictrandom(d, seed=3)
    assert {k: len(v) for k, v in reducedictrandom(d, n=3).items()} == {"a": 3, "b": 3}
    assert any(reducedictrandom(d, seed=s)["a"] != r["a"] for s in range(1, 6))
    with pytest.raises(ValueError):
        reducedictrandom(d, n=0)


def test_splitdict_by_image():
    d = {a: [f"{a}{i}" for i in range(10)] for a in "abc"}
    train, val, test = splitdict(d, test=0.4, val=0.2, seed=0)
    for a in "abc":
        assert (len(train[a]), len(val[a]), len(test[a])) == (4, 2, 4)
        assert sorted(train[a] + val[a] + test[a]) == sorted(d[a])
    assert splitdict(d, seed=0) == (train, val, test)


def test_splitdict_by_artist_disjoint():
    d = {f"art{i}": [f"{i}_{k}" for k in range(3)] for i in range(10)}
    train, val, test = splitdict(d, test=0.3, val=0.2, by="artist", seed=1)
    assert (len(train), len(val), len(test)) == (5, 2, 3)
    assert not (set(train) & set(val) or set(train) & set(test) or set(val) & set(test))
    assert sum(map(len, [flatten(p)[0] for p in (train, val, test)])) == 30


def test_splitdict_bad_args():
    with pytest.raises(ValueError, match="by must be"):
        splitdict({"a": ["x"]}, by="title")
    with pytest.raises(ValueError, match="test \\+ val < 1"):
        splitdict({"a": ["x"]}, test=0.6, val=0.5)


def test_make_pairs_balanced_no_self_pairs():
    labels = ["a"] * 5 + ["b"] * 3 + ["c"]
    i, j, same = make_pairs(labels, 200, seed=0)
    lab = np.array(labels)
    assert same.sum() == 100 and np.all(i != j)
    assert np.array_equal(lab[i] == lab[j], same.astype(bool))
    assert all(np.array_equal(x, y) for x, y in zip(make_pairs(labels, 200, seed=0), (i, j, same)))
    with pytest.raises(ValueError, match="two labels"):
        make_pairs(["a", "a"], 4)


def test_datagenerator_on_clean_data(clean_dir):
    d = readdatainfo(clean_dir / "all_data_info.csv", images_dir=clean_dir / "train", in_train=True)
    ds = datagenerator(d, clean_dir / "train", batch_size=8, image_size=48, n_pairs=20, seed=0)
    batches = list(ds)
    assert [b[1].shape[0] for b in batches] == [8, 8, 4]
    (a, b), y = batches[0]
    assert a.shape == (8, 48, 48, 3) and b.shape == (8, 48, 48, 3) and a.dtype.name == "float32"
    assert float(sum(bt[1].numpy().sum() for bt in batches)) == 10.0
    again = list(datagenerator(d, clean_dir / "train", batch_size=8, image_size=48, n_pairs=20, seed=0))
    assert np.array_equal(batches[0][0][0].numpy(), again[0][0][0].numpy())


def test_hold_out_indexes_its_own_rows_and_rejoins_the_collection():
    from painter.data.pairs import ValidationPairs
    F = np.arange(160, dtype=np.float32).reshape(80, 2)
    labels = np.repeat([f"artist{k}" for k in range(10)], 8)
    fit_F, fit_labels, v = ValidationPairs.hold_out(F, labels, val_artists=0.2, seed=0, n_pairs=50)
    assert len(fit_F) + len(v.features) == 80 and len(np.unique(labels[v.rows])) >= 2
    np.testing.assert_array_equal(v.features, F[v.rows])               # the pairs index the held-out rows
    np.testing.assert_array_equal(v.same, v.labels[v.i] == v.labels[v.j])
    assert not set(fit_F[:, 0]) & set(v.features[:, 0])                  # no painting in both
    G, g = v.rejoin(fit_F, fit_labels)
    np.testing.assert_array_equal(G, F)                                  # the collection's own order
    np.testing.assert_array_equal(g, labels)
    np.testing.assert_array_equal(v.unseen_artists, sorted(set(labels) - set(fit_labels)))


def test_held_out_artists_are_recorded_even_when_in_no_pair():
    """An artist with one painting held out makes no same pair and may make no pair at all."""
    from painter.data.pairs import ValidationPairs
    labels = np.array([f"artist{k}" for k in range(10) for _ in range(8)] + ["solo"])
    F = np.zeros((len(labels), 2), np.float32)
    _, fit_labels, v = ValidationPairs.hold_out(F, labels, val_artists=0.2, seed=0, n_pairs=4, prefer=["solo"])
    assert "solo" in v.unseen_artists and "solo" not in fit_labels and len(v.unseen_artists) == 2
    assert "solo" not in set(v.labels[v.i]) | set(v.labels[v.j])   # in no pair: the pairs alone would miss it


def test_validation_pairs_of_a_collection_with_two_or_three_paintings_per_artist():
    from painter.data.pairs import validation_pairs
    labels = np.array(["a", "a", "b", "b", "c", "c", "c", "d", "d", "e", "e"])
    # one held-out painting of each seen artist: no seen same-artist pair, so unseen pairs only
    i, j, same, kind = validation_pairs(labels, val_seen=np.array([0, 2, 4]), val_unseen=np.array([7, 8, 9, 10]), n=20)
    assert set(kind) == {"unseen"} and same.sum() == 10 and len(same) == 20
    assert all(labels[a] == labels[b] for a, b in zip(i[same == 1], j[same == 1]))
    with pytest.raises(ValueError, match="no artist with two of them"):
        validation_pairs(labels, val_seen=np.array([0, 2, 4]), val_unseen=np.array([7, 9]))
