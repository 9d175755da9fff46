"""Both notebooks run top to bottom on small synthetic data."""
import os

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run(name, env, cwd):
    nb = nbformat.read(os.path.join(ROOT, name), as_version=4)
    old = dict(os.environ)
    os.environ.update(env)
    try:
        NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}).execute()
    finally:
        os.environ.clear()
        os.environ.update(old)
    return nb


@pytest.mark.slow
def test_notebooks_run_top_to_bottom(kaggle_dir, tmp_path):
    env = {"PAINTER_KAGGLE_DIR": str(kaggle_dir), "PAINTER_DATA_DIR": str(tmp_path / "data"), "PAINTER_SIZE": "96",
           "PAINTER_MODEL_DIR": str(tmp_path / "models_1" / "nb"), "PAINTER_BACKBONE": "efficientnet_lite0",
           "PAINTER_IMAGE_SIZE": "64", "MPLBACKEND": "module://matplotlib_inline.backend_inline"}
    nb = _run("DataCleaning.ipynb", env, tmp_path)
    text = "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
    assert "ok" in text and "missing 1" in text
    assert (tmp_path / "data" / "plots" / "samples.png").is_file()
    nb = _run("ProjectCode.ipynb", env, tmp_path)
    last = "".join(o.get("text", "") for o in nb.cells[-1]["outputs"])
    assert "P(same artist) =" in last
    assert (tmp_path / "models_1" / "nb" / "plots" / "roc.png").is_file()
    assert (tmp_path / "models_1" / "siamese" / "plots" / "history.png").is_file()   # the end-to-end fit's curves
    for target in ("artist", "style", "genre"):
        assert (tmp_path / "models_1" / "classifiers" / target / "outliers.csv").is_file()
    assert (tmp_path / "models_1" / "classifiers" / "style" / "confusion.png").is_file()
    assert (tmp_path / "models_1" / "nb" / "plots" / "neighbours.png").is_file()
    text = "".join(str(o.get("data", {}).get("text/plain", "")) for c in nb.cells for o in c.get("outputs", []))
    assert "artist, unseen artists" in text and "precision@5" in text
