"""``painter demo``: the whole pipeline on a synthetic competition, printing each step."""
from __future__ import annotations

import time
from pathlib import Path

__all__ = ["run_demo"]


def run_demo(out="demo", image_size: int = 96) -> dict:
    """Generate -> clean -> train -> submit -> score -> predict_pair, under ``out``.

    Uses EfficientNet-Lite0 at ``image_size`` so it runs in a minute or two on a CPU.
    Returns the AUCs of the submission.
    """
    from .data.cleaning import clean_kaggle, summarize_report
    from .data.synthetic import make_synthetic_kaggle
    from .features import FeatureSpec
    from .same_artist.predict import predict_pair
    from .same_artist.submit import score_submission, submit
    from .same_artist.training import train

    out = Path(out)
    t = time.time()
    kaggle = make_synthetic_kaggle(out / "kaggle", n_artists=10, n_test_only=4, paintings_per_artist=16, size=128)
    print(f"[1/6] synthetic competition: {kaggle} ({time.time() - t:.1f} s)")
    t = time.time()
    report = clean_kaggle(kaggle, out / "data", size=image_size + 32)
    print(f"[2/6] cleaned ({time.time() - t:.1f} s): {summarize_report(report)}")
    t = time.time()
    model = train(out / "data", out / "models_1" / "demo", method="lda",
                  spec=FeatureSpec("efficientnet_lite0", image_size), val_artists=0.3)
    print(f"[3/6] trained ({time.time() - t:.1f} s)")
    t = time.time()
    submit(out / "models_1" / "demo", out / "data", kaggle / "submission_info.csv", out / "submission.csv")
    print(f"[4/6] submission written ({time.time() - t:.1f} s)")
    auc = score_submission(out / "submission.csv", kaggle / "solution_painter.csv")
    print("[5/6] ROC AUC " + ", ".join(f"{k} {v:.3f}" for k, v in auc.items()))
    test = sorted((out / "data" / "test").glob("*.jpg"))
    p = predict_pair(test[0], test[1], model=model)
    print(f"[6/6] predict_pair({test[0].name}, {test[1].name}) = {p:.3f}")
    return auc
