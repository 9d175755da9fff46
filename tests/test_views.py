"""Views of a painting at its own scale: tiles, their pixels, pooling, memory, and the features."""
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from PIL import Image

from painter.data.cleaning import clean_kaggle, detail_copy
from painter.data.images import ImageError, load_array
from painter.data.views import has_tiles, read_views, tile_boxes
from painter.errors import ParameterError
from painter.features import FeatureSpec, extract_features
from painter.features.inference import pool_views
from tests.test_features import _MustNotRunModel


def _blocks(tmp_path, width, height, name="planted.png", seed=0):
    """A PNG of 2 x 2 blocks of random colours, and the block colours ``(height/2, width/2, 3)``:
    halving it with a box filter gives the block colours exactly."""
    colours = np.random.RandomState(seed).randint(0, 256, (height // 2, width // 2, 3)).astype(np.uint8)
    pixels = colours.repeat(2, axis=0).repeat(2, axis=1)
    path = tmp_path / name
    Image.fromarray(pixels).save(path)
    return str(path), pixels, colours


def test_tiles_spread_evenly_from_edge_to_edge():
    assert tile_boxes(1000, 700, 448) == [(0, 0, 448, 448), (276, 0, 724, 448), (552, 0, 1000, 448),
                                          (0, 252, 448, 700), (276, 252, 724, 700), (552, 252, 1000, 700)]
    assert tile_boxes(500, 300, 300) == [(0, 0, 300, 300), (200, 0, 500, 300)]
    assert tile_boxes(300, 300, 300) == [(0, 0, 300, 300)]
    assert tile_boxes(299, 5000, 300) == []
    assert len(tile_boxes(10_000, 10_000, 224)) == 9   # at most 3 per side, spread over the painting


def test_views_are_the_paintings_pixels_at_the_stated_scale(tmp_path):
    path, pixels, colours = _blocks(tmp_path, 1344, 1008)
    whole, tiles, scale_of = read_views(path, 224, (1, 2))
    np.testing.assert_array_equal(whole, load_array(path, 224))
    assert list(scale_of) == [1] * 9 + [2] * 9 and tiles.shape == (18, 224, 224, 3)
    # scale 1: painting pixels as they are; left edges 0, 560, 1120 and top edges 0, 392, 784
    np.testing.assert_array_equal(tiles[0], pixels[:224, :224])
    np.testing.assert_array_equal(tiles[4], pixels[392:616, 560:784])
    np.testing.assert_array_equal(tiles[8], pixels[784:1008, 1120:1344])
    # scale 2: 448 painting pixels halved; left edges 0, 448, 896 and top edges 0, 280, 560
    np.testing.assert_array_equal(tiles[9], colours[:224, :224])
    np.testing.assert_array_equal(tiles[9 + 5], colours[140:364, 448:672])
    np.testing.assert_array_equal(tiles[17], colours[280:504, 448:672])


def test_a_thumbnail_has_the_whole_view_alone(tmp_path):
    for side in (224, 256, 335):   # under 1.5 x 224: the tiles would see no more than the whole view
        path, _, _ = _blocks(tmp_path, side, side, name=f"t{side}.png")
        whole, tiles, scale_of = read_views(path, 224, (1, 2, 3))
        assert tiles.shape == (0, 224, 224, 3) and not len(scale_of) and not has_tiles(path, 224, (1, 2, 3))
        np.testing.assert_array_equal(whole, load_array(path, 224))
    path, _, _ = _blocks(tmp_path, 336, 400, name="just.png")
    assert has_tiles(path, 224, (1, 2)) and not has_tiles(path, 224, (2,))
    assert not has_tiles(tmp_path / "missing.jpg", 224, (1,))
    with pytest.raises(ImageError, match="missing.jpg: file not found"):
        read_views(tmp_path / "missing.jpg", 224, (1,))


def test_pooling_the_views():
    whole = np.array([0.0, 8.0])
    tiles = np.array([[2.0, 2.0], [4.0, 4.0], [12.0, 0.0]])
    scale_of = np.array([1, 1, 2])
    np.testing.assert_allclose(pool_views(whole, tiles, scale_of, "mean"), [4.5, 3.5])
    np.testing.assert_allclose(pool_views(whole, tiles, scale_of, "scales"), [5.0, 11 / 3])
    np.testing.assert_array_equal(pool_views(whole, tiles[:0], scale_of[:0], "scales"), whole)


def test_peak_memory_stays_bounded_on_a_100_megapixel_jpeg(tmp_path):
    path = tmp_path / "huge.jpg"
    Image.radial_gradient("L").resize((10_000, 10_000)).convert("RGB").save(path, quality=60)
    script = textwrap.dedent(f"""
        import resource
        from painter.data.views import read_views
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        whole, tiles, scale_of = read_views({str(path)!r}, 224, (1, 4))
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(len(tiles), (after - before) // 1024)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout.split()
    n_tiles, grown_mb = int(out[0]), int(out[1])
    assert n_tiles == 18
    # decoded at half scale (5000 px, 75 MB) and reduced to 4096 px (50 MB): never the 300 MB of the whole
    assert grown_mb < 200, grown_mb


def test_feature_spec_views_name_their_own_cache():
    plain = FeatureSpec("efficientnet_lite0", 64)
    views = FeatureSpec("efficientnet_lite0", 64, views=[2, 1])
    assert views.views == (1, 2) and views.whole() == plain and plain.whole() is plain
    assert views.key != plain.key != FeatureSpec("efficientnet_lite0", 64, views=(1, 2), view_pool="scales").key
    assert plain.to_dict() == FeatureSpec.from_dict(plain.to_dict()).to_dict() and "views" not in plain.to_dict()
    assert FeatureSpec.from_dict(views.to_dict()) == views
    assert [c.views for c in FeatureSpec("efficientnet_lite0+efficientnet_lite1", views=2).components()] == [(2,), (2,)]
    for bad in ((0,), ("2",), (True,)):
        with pytest.raises(ParameterError, match="FeatureSpec.views"):
            FeatureSpec(views=bad)
    with pytest.raises(ParameterError, match="view_pool"):
        FeatureSpec(views=1, view_pool="max")


def test_features_pool_the_views_and_leave_thumbnails_as_they_were(tmp_path, monkeypatch):
    monkeypatch.setenv("PAINTER_CACHE", str(tmp_path / "cache"))
    big, _, _ = _blocks(tmp_path, 700, 500, name="big.png")
    small, _, _ = _blocks(tmp_path, 64, 64, name="small.png", seed=1)
    missing = str(tmp_path / "missing.jpg")
    plain = FeatureSpec("efficientnet_lite0", 64, "pooled")
    spec = FeatureSpec("efficientnet_lite0", 64, "pooled", views=(2,))
    F, failed = extract_features([big, small, missing], spec, progress=False)
    P, _ = extract_features([big, small], plain, progress=False)
    assert failed == {missing: "file not found"} and np.isnan(F[2]).all()
    np.testing.assert_array_equal(F[1], P[1])   # the thumbnail: its whole-painting features, from their store
    whole, tiles, _ = read_views(big, 64, (2,))
    assert len(tiles) == 9   # 500 px >= 1.5 x 2 x 64: 3 x 3 tiles of 128 px
    from painter.features import feature_model
    rows = feature_model(plain).predict_on_batch(np.concatenate([whole[None], tiles]))
    np.testing.assert_allclose(F[0], rows.mean(axis=0), rtol=1e-4, atol=1e-5)
    assert np.abs(F[0] - P[0]).max() > 1e-3   # the tiles changed the big painting's features
    again, _ = extract_features([big], spec, progress=False, model=_MustNotRunModel(plain))
    np.testing.assert_array_equal(again[0], F[0])   # cached under the views' own key


def test_cleaning_keeps_a_detail_copy_resumably(kaggle_dir, tmp_path):
    out = tmp_path / "out"
    clean_kaggle(kaggle_dir, out, size=48, workers=1, progress=False)
    squares = {p: p.stat().st_mtime_ns for p in (out / "train").glob("*.jpg")}
    report = clean_kaggle(kaggle_dir, out, size=48, workers=1, progress=False, detail=80)   # asked later
    assert all(p.stat().st_mtime_ns == t for p, t in squares.items())   # the squares are not written again
    listed = report[report["detail"] != ""]
    assert len(listed) == (report["status"].isin(["ok", "replaced"])).sum()
    first = listed.iloc[0]
    assert first["detail"] == f"detail/{first['split']}/{first['filename']}"
    copies = list((out / "detail").rglob("*.jpg"))
    assert len(copies) == len(listed) and {Image.open(p).size for p in copies} == {(80, 80)}   # 96 px capped at 80
    square = out / first["split"] / first["filename"]
    assert detail_copy(square) == str(out / first["detail"])
    assert detail_copy(tmp_path / "x.jpg") == str(tmp_path / "x.jpg")
    stamp = {p: p.stat().st_mtime_ns for p in copies}
    copies[0].unlink()
    clean_kaggle(kaggle_dir, out, size=48, workers=1, progress=False, detail=80)
    assert copies[0].is_file() and all(p.stat().st_mtime_ns == t for p, t in stamp.items() if p != copies[0])
    with pytest.raises(ParameterError, match="detail must be >= size"):
        clean_kaggle(kaggle_dir, out, size=48, detail=32)


def test_tile_maps_show_each_tiles_share_of_the_score(tmp_path, monkeypatch):
    import copy
    import dataclasses
    from painter.errors import InputError
    from painter.explain_tiles import explain_tiles
    from painter.same_artist.predict import PACKAGED_MODEL, load_pair_model, predict_pair
    monkeypatch.setenv("PAINTER_CACHE", str(tmp_path / "cache"))
    packaged = load_pair_model(PACKAGED_MODEL)
    model = copy.copy(packaged)
    model.spec = dataclasses.replace(packaged.spec, views=(1,))
    a, _, _ = _blocks(tmp_path, 600, 400, name="a.png", seed=1)
    b, _, _ = _blocks(tmp_path, 400, 600, name="b.png", seed=2)
    thumb, _, _ = _blocks(tmp_path, 200, 200, name="thumb.png", seed=3)
    e = explain_tiles(a, b, model=model)
    assert e.probability == pytest.approx(predict_pair(a, b, model=model), abs=1e-4)
    assert e.map_a.shape == (400, 600) and e.map_b.shape == (600, 400) and e.grid == 0
    assert np.isfinite(e.map_a).all() and np.isfinite(e.map_b).all()   # 3 x 2 tiles of each backbone cover them
    assert len(np.unique(e.map_a)) > 6   # overlapping tiles of two backbones: many distinct means
    t = explain_tiles(a, thumb, model=model)
    assert np.isnan(t.map_b).all() and np.isfinite(t.map_a).all()   # a thumbnail: no tile, no map
    assert t.probability == pytest.approx(predict_pair(a, thumb, model=model), abs=1e-4)
    with pytest.raises(InputError, match="tile maps need features with views"):
        explain_tiles(a, b, model=packaged)
    with pytest.raises(ImageError, match="missing.png: file not found"):   # the file first, then the model
        explain_tiles(a, tmp_path / "missing.png", model=packaged)
    collection = tmp_path / "collection"   # at its own resolution: the context reads it with views
    collection.mkdir()
    for k in range(10):
        _blocks(collection, 400, 360, name=f"{k}.png", seed=10 + k)
    c = explain_tiles(a, b, model=packaged, context=collection)
    assert c.probability == pytest.approx(predict_pair(a, b, model=packaged, context=collection), abs=1e-4)
    assert np.isfinite(c.map_a).all() and not np.allclose(c.map_a, e.map_a)   # views (1, 2) by scale, shifted


def test_a_search_index_on_views_finds_each_painting(tmp_path, monkeypatch):
    from painter.search import SimilarityIndex, build_index_from_data
    monkeypatch.setenv("PAINTER_CACHE", str(tmp_path / "cache"))
    for k, artist in enumerate(["Anna", "Anna", "Bert", "Bert", "Cleo"]):
        (tmp_path / "mine" / artist).mkdir(parents=True, exist_ok=True)
        _blocks(tmp_path / "mine" / artist, 300, 240, name=f"{k}.png", seed=k)
    spec = FeatureSpec("efficientnet_lite0", 64, "pooled", views=(1,))
    index = build_index_from_data(tmp_path / "mine", tmp_path / "index", spec=spec, progress=False)
    assert index.spec == spec
    again = SimilarityIndex.load(tmp_path / "index")
    for k, artist in enumerate(["Anna", "Anna", "Bert", "Bert", "Cleo"]):   # a copy finds its original
        copy = tmp_path / f"query{k}.png"
        copy.write_bytes((tmp_path / "mine" / artist / f"{k}.png").read_bytes())
        hits = again.query_file(copy, k=2)
        assert hits.iloc[0]["file"].endswith(f"{artist}/{k}.png") and hits.iloc[0]["score"] > 0.9999
