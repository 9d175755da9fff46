"""Same-artist evaluation: ROC AUC and accuracy for seen and unseen artists apart, and plots.

Every plot is written as a PNG and its path returned, so notebooks show it and scripts keep it.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["pair_metrics", "balanced_accuracy", "plot_roc", "plot_confusion", "plot_history", "plot_pair_grid"]


def balanced_accuracy(same, p, threshold=0.5) -> float:
    """Mean of the accuracy on same-artist pairs and on different-artist pairs."""
    from sklearn.metrics import balanced_accuracy_score
    return float(balanced_accuracy_score(np.asarray(same).astype(int), (np.asarray(p) >= threshold).astype(int)))


def choose_threshold(same, p, kind=None, grid=np.arange(5, 96) / 100) -> float:
    """The decision threshold on ``p`` with the best mean balanced accuracy over pair kinds.

    Parameters: ``same (n,)`` 0/1 truth, ``p (n,)`` probabilities, ``kind (n,)`` e.g. "seen"/"unseen".
    Seen and unseen pairs weigh the same, whatever their counts.
    """
    same, p = np.asarray(same), np.asarray(p)
    kind = np.zeros(len(p), int) if kind is None else np.asarray(kind)
    groups = [kind == k for k in np.unique(kind)]
    scores = [np.mean([balanced_accuracy(same[g], p[g], t) for g in groups]) for t in grid]
    return float(grid[int(np.argmax(scores))])


def pair_metrics(same, p, kind=None, threshold: float = 0.5) -> dict:
    """ROC AUC, balanced accuracy and pair counts, overall and per pair kind.

    Parameters
    ----------
    same : (n,) 0/1 truth; p : (n,) scores; kind : (n,) labels such as "seen"/"unseen", optional.

    Returns ``{"all": {...}, "seen": {...}, "unseen": {...}}`` with keys auc, accuracy,
    n_pairs, n_same; NaN scores count as 0.5.
    """
    from sklearn.metrics import roc_auc_score
    same, p = np.asarray(same).astype(int), np.nan_to_num(np.asarray(p, float), nan=0.5)
    groups = {"all": np.ones(len(same), bool)}
    if kind is not None:
        kind = np.asarray(kind)
        groups.update({str(k): kind == k for k in sorted(set(kind.tolist()))})
    out = {}
    for name, m in groups.items():
        if m.sum() and len(set(same[m].tolist())) == 2:
            out[name] = {"auc": float(roc_auc_score(same[m], p[m])), "accuracy": balanced_accuracy(same[m], p[m], threshold),
                         "n_pairs": int(m.sum()), "n_same": int(same[m].sum())}
    return out


def _save(fig, path):
    import matplotlib.pyplot as plt
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def plot_roc(same, p, kind=None, path="roc.png"):
    """ROC curves, one per pair kind (and overall), saved as PNG."""
    import matplotlib.pyplot as plt
    from sklearn.metrics import roc_curve
    same, p = np.asarray(same), np.nan_to_num(np.asarray(p, float), nan=0.5)
    fig, ax = plt.subplots(figsize=(5, 5))
    metrics = pair_metrics(same, p, kind)
    masks = {"all": np.ones(len(same), bool)}
    if kind is not None:
        masks.update({k: np.asarray(kind) == k for k in metrics if k != "all"})
    for name, m in masks.items():
        if name in metrics:
            fpr, tpr, _ = roc_curve(same[m], p[m])
            ax.plot(fpr, tpr, label=f"{name} (AUC {metrics[name]['auc']:.3f})")
    ax.plot([0, 1], [0, 1], "k--", lw=0.8)
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="Same artist: ROC")
    ax.legend(loc="lower right")
    return _save(fig, path)


def plot_confusion(same, p, threshold=0.5, path="confusion.png", labels=("different", "same")):
    """2x2 confusion matrix at ``threshold`` as a PNG."""
    import matplotlib.pyplot as plt
    import seaborn as sns
    from sklearn.metrics import confusion_matrix
    cm = confusion_matrix(np.asarray(same).astype(int), (np.nan_to_num(np.asarray(p, float), nan=0.5) >= threshold).astype(int),
                          labels=[0, 1])
    fig, ax = plt.subplots(figsize=(4, 3.5))
    sns.heatmap(cm, annot=True, fmt="d", cmap="Blues", xticklabels=labels, yticklabels=labels, ax=ax, cbar=False)
    ax.set(xlabel="predicted", ylabel="true", title=f"threshold {threshold:.2f}")
    return _save(fig, path)


def plot_history(history_csv, path="history.png"):
    """Loss / accuracy / AUC curves from a Keras CSVLogger file."""
    import matplotlib.pyplot as plt
    import pandas as pd
    h = pd.read_csv(history_csv)
    cols = [c for c in ("loss", "accuracy", "auc") if c in h.columns or f"val_{c}" in h.columns]
    fig, axes = plt.subplots(1, len(cols), figsize=(4 * len(cols), 3), squeeze=False)
    for ax, c in zip(axes[0], cols):
        for name in (c, f"val_{c}"):
            if name in h.columns:
                ax.plot(h["epoch"] + 1, h[name], marker="o", label=name)
        ax.set(xlabel="epoch", title=c)
        ax.legend()
    return _save(fig, path)


def plot_pair_grid(paths_a, paths_b, same, p, path="pairs.png", threshold=0.5, n=8):
    """Seed-style figure: rows of (painting A, painting B) with truth and prediction."""
    import matplotlib.pyplot as plt
    from .images import ImageError, load_array
    n = min(n, len(paths_a))
    fig, axes = plt.subplots(n, 2, figsize=(4.4, 2.2 * n), squeeze=False)
    for r in range(n):
        for c, src in enumerate((paths_a[r], paths_b[r])):
            ax = axes[r][c]
            try:
                ax.imshow(load_array(src, 160))
            except ImageError:
                ax.text(0.5, 0.5, "unreadable", ha="center")
            ax.axis("off")
        truth = "same artist" if same[r] else "different artists"
        guess = "same" if p[r] >= threshold else "different"
        ok = (p[r] >= threshold) == bool(same[r])
        axes[r][0].set_title(f"truth: {truth}", fontsize=8, loc="left")
        axes[r][1].set_title(f"pred: {guess} ({p[r]:.2f})", fontsize=8, loc="left", color="green" if ok else "red")
    return _save(fig, path)
