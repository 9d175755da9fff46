"""Every picture painter draws, saved as PNG (the path is returned, so notebooks show it and
scripts keep it): the collection, same-artist evaluation, classifiers and neighbours."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .data.images import ImageError, load_array
from .metrics import pair_metrics

__all__ = ["save_figure", "plot_counts", "plot_samples_per_artist", "plot_roc", "plot_confusion", "plot_history",
           "plot_pair_grid", "plot_confusion_top", "plot_image_row", "plot_score_distributions", "plot_attribution"]


def save_figure(fig, path) -> Path:
    """Save ``fig`` as a PNG at ``path`` (folders made), close it, return the path."""
    import matplotlib.pyplot as plt
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def _show(ax, image_path, size=160):
    try:
        ax.imshow(load_array(image_path, size))
    except ImageError:
        ax.text(0.5, 0.5, "unreadable", ha="center")
    ax.axis("off")


# --- the collection -------------------------------------------------------------------------

def plot_counts(d: dict, path="counts.png", top: int = 40):
    """Horizontal bar plot of the ``top`` largest labels of a label dict."""
    import matplotlib.pyplot as plt
    counts = sorted(((len(v), k) for k, v in d.items()), reverse=True)[:top]
    fig, ax = plt.subplots(figsize=(6, 0.22 * len(counts) + 1))
    ax.barh([k for _, k in counts][::-1], [c for c, _ in counts][::-1], color="steelblue")
    ax.set(xlabel="paintings", title=f"paintings per label (top {len(counts)} of {len(d)})")
    return save_figure(fig, path)


def plot_samples_per_artist(d: dict, images_dir, path="samples.png", n_artists: int = 6, per_artist: int = 5):
    """Grid: one row per artist, ``per_artist`` of its paintings."""
    import matplotlib.pyplot as plt
    artists = sorted(d, key=lambda k: -len(d[k]))[:n_artists]
    fig, axes = plt.subplots(len(artists), per_artist, figsize=(1.8 * per_artist, 1.9 * len(artists)), squeeze=False)
    for r, artist in enumerate(artists):
        for c in range(per_artist):
            axes[r][c].axis("off")
            if c < len(d[artist]):
                _show(axes[r][c], Path(images_dir) / d[artist][c], 128)
        axes[r][0].set_title(artist[:28], fontsize=8, loc="left")
    return save_figure(fig, path)


def plot_image_row(items, path, size=160, width=2.2):
    """One row of paintings with a title each: ``items`` is a list of ``(image path, title)``."""
    import matplotlib.pyplot as plt
    n = max(1, len(items))
    fig, axes = plt.subplots(1, n, figsize=(width * n, 2.9), squeeze=False)
    for ax, (image, title) in zip(axes[0], items):
        _show(ax, image, size)
        ax.set_title(title, fontsize=7)
    for ax in axes[0][len(items):]:
        ax.axis("off")
    return save_figure(fig, path)


# --- same-artist evaluation -------------------------------------------------------------------

def plot_roc(same, p, kind=None, path="roc.png"):
    """ROC curves, overall and one per pair kind (seen / unseen), saved as PNG."""
    import matplotlib.pyplot as plt
    from sklearn.metrics import RocCurveDisplay
    same, p = np.asarray(same), np.nan_to_num(np.asarray(p, float), nan=0.5)
    fig, ax = plt.subplots(figsize=(5, 5))
    masks = {"all": np.ones(len(same), bool)}
    if kind is not None:
        masks.update({str(k): np.asarray(kind) == k for k in sorted(set(np.asarray(kind).tolist()))})
    for name, m in masks.items():
        if name in pair_metrics(same[m], p[m]):   # both classes present
            RocCurveDisplay.from_predictions(same[m], p[m], name=name, ax=ax)
    ax.plot([0, 1], [0, 1], "k--", lw=0.8)
    ax.set(title="Same artist: ROC")
    ax.legend(loc="lower right")
    return save_figure(fig, path)


def plot_score_distributions(same, p, threshold=None, path="scores.png"):
    """P(same) of same-artist and of different-artist pairs, each density scaled to one (the
    different pairs far outnumber the same ones), with the verdict's threshold; saved as PNG."""
    import matplotlib.pyplot as plt
    import seaborn as sns
    same, p = np.asarray(same, bool), np.nan_to_num(np.asarray(p, float), nan=0.5)
    fig, ax = plt.subplots(figsize=(6, 3.5))
    data = {"P(same artist)": p, "pair": np.where(same, "same artist", "different artists")}
    sns.histplot(data, x="P(same artist)", hue="pair", stat="density", common_norm=False, bins=50,
                 binrange=(0, 1), element="step", ax=ax)
    if threshold is not None:
        ax.axvline(threshold, color="k", ls="--", lw=1, label=f"threshold {threshold:.2f}")
        ax.text(threshold, ax.get_ylim()[1] * 0.95, f" threshold {threshold:.2f}", va="top", fontsize=8)
    ax.set(title="Scores of same-artist and different-artist pairs")
    return save_figure(fig, path)


def plot_confusion(same, p, threshold=0.5, path="confusion.png", labels=("different", "same")):
    """2x2 confusion matrix at ``threshold`` as a PNG."""
    import matplotlib.pyplot as plt
    from sklearn.metrics import ConfusionMatrixDisplay
    pred = (np.nan_to_num(np.asarray(p, float), nan=0.5) >= threshold).astype(int)
    fig, ax = plt.subplots(figsize=(4, 3.5))
    ConfusionMatrixDisplay.from_predictions(np.asarray(same).astype(int), pred, labels=[0, 1], display_labels=labels,
                                            cmap="Blues", colorbar=False, ax=ax)
    ax.set(title=f"threshold {threshold:.2f}")
    return save_figure(fig, path)


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
    return save_figure(fig, path)


def plot_pair_grid(paths_a, paths_b, same, p, path="pairs.png", threshold=0.5, n=8):
    """Seed-style figure: rows of (painting A, painting B) with truth and prediction."""
    import matplotlib.pyplot as plt
    n = min(n, len(paths_a))
    fig, axes = plt.subplots(n, 2, figsize=(4.4, 2.2 * n), squeeze=False)
    for r in range(n):
        _show(axes[r][0], paths_a[r])
        _show(axes[r][1], paths_b[r])
        truth = "same artist" if same[r] else "different artists"
        guess = "same" if p[r] >= threshold else "different"
        ok = (p[r] >= threshold) == bool(same[r])
        axes[r][0].set_title(f"truth: {truth}", fontsize=8, loc="left")
        axes[r][1].set_title(f"pred: {guess} ({p[r]:.2f})", fontsize=8, loc="left", color="green" if ok else "red")
    return save_figure(fig, path)


# --- classifiers ------------------------------------------------------------------------------

def plot_confusion_top(y_true, pred, classes, path, top=20):
    """Confusion matrix of the ``top`` most frequent true classes, rows normalised."""
    import matplotlib.pyplot as plt
    from sklearn.metrics import ConfusionMatrixDisplay
    keep = np.argsort(-np.bincount(y_true, minlength=len(classes)))[:top]
    names = [str(classes[k])[:22] for k in keep]
    fig, ax = plt.subplots(figsize=(0.45 * len(keep) + 3, 0.45 * len(keep) + 2))
    ConfusionMatrixDisplay.from_predictions(y_true, pred, labels=keep, display_labels=names, normalize="true",
                                            include_values=False, cmap="Blues", xticks_rotation="vertical", ax=ax)
    ax.set(title=f"confusion (top {len(keep)} classes, row-normalised)")
    return save_figure(fig, path)


# --- attribution ------------------------------------------------------------------------------

def plot_attribution(table, path="attribution.png", thumb: int = 128):
    """PNG of a ``painter.attribute`` table: the questioned painting and the probabilities (left),
    each candidate's nearest reference paintings (one row per candidate). Returns the path."""
    import matplotlib.pyplot as plt
    cands = table[table["rank"] > 0]
    n_rows, n_cols = max(len(cands), 2), 1 + max([len(b) for b in cands["best_matches"]] + [1])
    fig = plt.figure(figsize=(2.0 * (n_cols + 1.6), 2.0 * n_rows))
    grid = fig.add_gridspec(n_rows, n_cols + 1, width_ratios=[2.6] + [1] * n_cols)

    def show(ax, f, title):
        _show(ax, f, thumb)
        ax.set_title(title, fontsize=7)

    half = n_rows // 2
    show(fig.add_subplot(grid[:half, 0]), table.attrs.get("query", ""),
         f"questioned painting\nanswer: {table.attrs.get('answer', '')}")
    ax = fig.add_subplot(grid[half:, 0])
    labels = [a[:22] for a in table["artist"]]
    ax.barh(labels[::-1], table["probability"][::-1], color=["grey"] + ["steelblue"] * len(cands))
    ax.set(xlim=(0, 1), xlabel="probability")
    ax.tick_params(labelsize=7)
    for r, row in enumerate(cands.itertuples()):
        label = fig.add_subplot(grid[r, 1])
        label.text(0.5, 0.5, f"{row.rank}. {row.artist[:24]}\nP = {row.probability:.2f}\n{row.n_reference} paintings",
                   ha="center", va="center", fontsize=8)
        label.axis("off")
        for c, (f, p) in enumerate(zip(row.best_matches, row.match_probability)):
            show(fig.add_subplot(grid[r, 2 + c]), f, f"{Path(f).name[:18]}\nP(same) {p:.2f}")
    return save_figure(fig, path)
