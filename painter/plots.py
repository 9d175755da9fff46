"""Dataset pictures for the notebooks: paintings per artist and sample grids (saved as PNG)."""
from __future__ import annotations

from pathlib import Path

from .evaluate import _save
from .images import ImageError, load_array

__all__ = ["plot_counts", "plot_samples_per_artist"]


def plot_counts(d: dict, path="counts.png", top: int = 40):
    """Horizontal bar plot of the ``top`` largest labels of a label dict."""
    import matplotlib.pyplot as plt
    import seaborn as sns
    counts = sorted(((len(v), k) for k, v in d.items()), reverse=True)[:top]
    fig, ax = plt.subplots(figsize=(6, 0.22 * len(counts) + 1))
    sns.barplot(x=[c for c, _ in counts], y=[k for _, k in counts], ax=ax, color="steelblue")
    ax.set(xlabel="paintings", title=f"paintings per label (top {len(counts)} of {len(d)})")
    return _save(fig, path)


def plot_samples_per_artist(d: dict, images_dir, path="samples.png", n_artists: int = 6, per_artist: int = 5):
    """Grid: one row per artist, ``per_artist`` of its paintings."""
    import matplotlib.pyplot as plt
    artists = sorted(d, key=lambda k: -len(d[k]))[:n_artists]
    fig, axes = plt.subplots(len(artists), per_artist, figsize=(1.8 * per_artist, 1.9 * len(artists)), squeeze=False)
    for r, artist in enumerate(artists):
        for c in range(per_artist):
            ax = axes[r][c]
            ax.axis("off")
            if c < len(d[artist]):
                try:
                    ax.imshow(load_array(Path(images_dir) / d[artist][c], 128))
                except ImageError:
                    ax.text(0.5, 0.5, "unreadable", ha="center")
        axes[r][0].set_title(artist[:28], fontsize=8, loc="left")
    return _save(fig, path)
