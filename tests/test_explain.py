import subprocess
import sys

import numpy as np
import pytest
from PIL import Image
from scipy.stats import spearmanr

from painter.explain import explain_pair, occlusion_boxes, plot_explanation, randomized_model
from painter.data.images import ImageError
from painter.same_artist.predict import PACKAGED_MODEL, load_pair_model, predict_pair

GRID = 4   # 16 patches: a few seconds per pair with the default model on a CPU


@pytest.fixture(scope="module")
def pair(clean_dir, tmp_path_factory):
    """Two training paintings of one synthetic artist; the first cut to 64 x 40 (not square)."""
    import pandas as pd
    info = pd.read_csv(clean_dir / "all_data_info.csv")
    files = [clean_dir / "train" / f for f in info[info.in_train & (info.artist == "Artist 01")]["new_filename"]]
    files = [f for f in files if f.is_file()]
    wide = tmp_path_factory.mktemp("explain") / "wide.jpg"
    Image.open(files[0]).crop((0, 12, 64, 52)).save(wide, quality=95)
    return wide, files[1]


@pytest.fixture(scope="module")
def explanation(pair):
    return explain_pair(*pair, model=PACKAGED_MODEL, grid=GRID)


def test_boxes_tile_the_square():
    boxes = occlusion_boxes(7)
    assert boxes.shape == (49, 4) and boxes.min() == 0 and boxes.max() == pytest.approx(1)
    assert np.allclose(boxes[:, 1] - boxes[:, 0], 2 / 8) and np.allclose(boxes[:, 3] - boxes[:, 2], 2 / 8)


def test_maps_have_the_images_shape_and_the_pairs_score(pair, explanation, tmp_path):
    e = explanation
    assert e.map_a.shape == (40, 64) and e.map_b.shape == (64, 64) and e.map_a.dtype == np.float32
    # the model sees the centred 40 x 40 square of the wide painting: NaN elsewhere
    assert np.isnan(e.map_a[:, :12]).all() and np.isnan(e.map_a[:, 52:]).all() and np.isfinite(e.map_a[:, 12:52]).all()
    assert np.isfinite(e.map_b).all() and np.abs(e.map_b).max() > 0
    assert e.probability == pytest.approx(predict_pair(*pair, model=PACKAGED_MODEL), abs=1e-4)
    png = plot_explanation(e, tmp_path / "explanation.png")
    assert png.is_file() and png.stat().st_size > 10_000


def test_maps_are_deterministic(pair, explanation):
    again = explain_pair(*pair, model=PACKAGED_MODEL, grid=GRID)
    assert np.array_equal(again.map_a, explanation.map_a, equal_nan=True)
    assert np.array_equal(again.map_b, explanation.map_b, equal_nan=True)


@pytest.mark.parametrize("part", ["embedder", "both"])
def test_maps_change_when_the_model_is_randomised(pair, explanation, part):
    """Adebayo et al. (2018): an explanation that survives random weights does not explain the
    model. One draw of random weights can happen to rank 32 patches alike (on real pairs the rank
    correlation of one draw ranges from -0.6 to 0.7), so the mean over three draws of the embedder
    is tested ("both": with random backbones too, a draw per seed)."""
    model = load_pair_model(PACKAGED_MODEL)
    trained = np.concatenate([explanation.map_a[:, 12:52].ravel(), explanation.map_b.ravel()])
    rhos = []
    for seed in range(3):
        random = explain_pair(*pair, model=randomized_model(model, part, seed=seed), grid=GRID)
        rhos.append(spearmanr(trained, np.concatenate([random.map_a[:, 12:52].ravel(), random.map_b.ravel()]))[0])
    assert np.mean(rhos) < 0.5, rhos
    # the original is untouched
    assert load_pair_model(PACKAGED_MODEL, exported=False).embedder.get_weights()[0].std() > 0
    with pytest.raises(ValueError, match="part must be"):
        randomized_model(model, "head")


def test_unreadable_image_is_one_line(pair, tmp_path):
    with pytest.raises(ImageError, match=r"nope\.jpg: file not found"):
        explain_pair(tmp_path / "nope.jpg", pair[1], model=PACKAGED_MODEL)


def test_cli_explain(pair, tmp_path, capsys):
    from painter.cli import main
    assert main(["explain", str(pair[0]), str(pair[1]), "--model", str(PACKAGED_MODEL), "--grid", "2",
                 "--png", str(tmp_path / "e.png")]) == 0   # in this process: the backbones are built already
    assert "P(same artist) =" in capsys.readouterr().out and (tmp_path / "e.png").is_file()
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(pair[1].read_bytes()[:200])
    r = subprocess.run([sys.executable, "-m", "painter", "explain", str(bad), str(pair[1]), "--model",
                        str(PACKAGED_MODEL)], capture_output=True, text=True)
    assert r.returncode == 1 and r.stderr.strip().splitlines()[-1].startswith(f"painter explain: error: {bad}: ")
