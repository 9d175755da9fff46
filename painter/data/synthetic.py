"""A small synthetic Painter by Numbers competition, in the exact Kaggle layout.

Each procedural "artist" has its own palette and stroke habit (direction, length, width,
mark shape), so same-artist pairs really are more alike. The bundle holds the same awkward
files as the real data (CMYK, grayscale, PNG behind ``.jpg``, EXIF rotation, a truncated file
repaired by the replacements archive, a CSV row with no image), so the demo and the tests run
the real cleaning path on a machine without the Kaggle data.
"""
from __future__ import annotations

import io
import itertools
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, ImageDraw, ImageFilter

__all__ = ["make_synthetic_kaggle", "paint"]

STYLES = ["Impressionism", "Cubism", "Baroque", "Pop Art"]
GENRES = ["landscape", "portrait", "still life", ""]  # "" = unlabelled, as in the real CSV


def artist_traits(rng):
    hues = rng.uniform(0, 1, 4)
    base = rng.uniform(0, 1)
    return {
        "palette": [tuple(int(255 * c) for c in _hsv(h, rng.uniform(0.4, 1), rng.uniform(0.35, 1))) for h in hues],
        "background": tuple(int(255 * c) for c in _hsv(base, rng.uniform(0, 0.5), rng.uniform(0.2, 0.95))),
        "angle": rng.uniform(0, np.pi),
        "length": rng.uniform(0.05, 0.4),
        "width": int(rng.integers(1, 6)),
        "shape": rng.choice(["line", "dot", "rect"]),
        "count": int(rng.integers(60, 220)),
        "blur": float(rng.uniform(0, 1.5)),
    }


def _hsv(h, s, v):
    import colorsys
    return colorsys.hsv_to_rgb(h, s, v)


def paint(traits: dict, size: int, rng) -> Image.Image:
    """Paint one picture in an artist's manner: strokes of its palette, angle and shape."""
    im = Image.new("RGB", (size, size), traits["background"])
    draw = ImageDraw.Draw(im)
    for _ in range(traits["count"]):
        color = traits["palette"][rng.integers(len(traits["palette"]))]
        color = tuple(int(np.clip(c + rng.normal(0, 12), 0, 255)) for c in color)
        x, y = rng.uniform(0, size, 2)
        angle = traits["angle"] + rng.normal(0, 0.25)
        length = traits["length"] * size * rng.uniform(0.5, 1.5)
        w = traits["width"]
        if traits["shape"] == "line":
            draw.line([x, y, x + length * np.cos(angle), y + length * np.sin(angle)], fill=color, width=w)
        elif traits["shape"] == "dot":
            r = w * rng.uniform(0.8, 2.0)
            draw.ellipse([x - r, y - r, x + r, y + r], fill=color)
        else:
            draw.rectangle([x, y, x + length / 2, y + length / 4], fill=color)
    return im.filter(ImageFilter.GaussianBlur(traits["blur"])) if traits["blur"] > 0.3 else im


def _jpeg(im: Image.Image, **kwargs) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=90, **kwargs)
    return buf.getvalue()


def _oddity(kind: str, im: Image.Image) -> bytes:
    """Encode ``im`` as one of the awkward file kinds found in the real data."""
    if kind == "cmyk":
        return _jpeg(im.convert("CMYK"))
    if kind == "gray":
        return _jpeg(im.convert("L"))
    if kind == "png":
        buf = io.BytesIO()
        im.convert("RGBA").save(buf, "PNG")
        return buf.getvalue()
    if kind == "exif":
        exif = Image.Exif()
        exif[0x0112] = 6  # orientation: rotate 90 CW to display; store the image rotated back
        return _jpeg(im.transpose(Image.Transpose.ROTATE_90), exif=exif)
    raise ValueError(kind)


def make_synthetic_kaggle(out_dir, n_artists: int = 10, n_test_only: int = 3, paintings_per_artist: int = 12,
                          size: int = 128, n_groups: int = 2, seed: int = 0) -> Path:
    """Write a synthetic competition to ``out_dir`` and return its path.

    ``n_artists`` artists have paintings in train and test (about 75% / 25%);
    ``n_test_only`` more appear only in test (unseen artists). Test images are split into
    ``n_groups`` groups and every pair inside a group is a submission pair, as on Kaggle.

    Files: ``train_1.zip``, ``train_2.zip``, ``test.zip``, ``replacements_for_corrupted_files.zip``,
    ``all_data_info.csv``, ``submission_info.csv``, ``solution_painter.csv``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    rows, blobs = [], {}
    names = iter(rng.permutation(np.arange(100000, 999999))[: (n_artists + n_test_only) * paintings_per_artist + 1])
    for a in range(n_artists + n_test_only):
        traits = artist_traits(rng)
        artist, group = f"Artist {a:02d}", ("train_and_test" if a < n_artists else "test_only")
        style, genre = STYLES[a % len(STYLES)], GENRES[a % len(GENRES)]
        for k in range(paintings_per_artist):
            in_train = group == "train_and_test" and k < round(0.75 * paintings_per_artist)
            name = f"{next(names)}.jpg"
            rows.append(dict(artist=artist, date="1900.0", genre=genre, pixelsx=float(size), pixelsy=float(size),
                             size_bytes=0.0, source="synthetic", style=style, title=f"Work {k}",
                             artist_group=group, in_train=in_train, new_filename=name))
            blobs[name] = paint(traits, size, rng)
    info = pd.DataFrame(rows)
    train = info[info.in_train]["new_filename"].tolist()
    test = info[~info.in_train]["new_filename"].tolist()

    # The awkward cases of the real data, planted in known files.
    encoded = {name: _jpeg(im) for name, im in blobs.items()}
    for kind, name in zip(["cmyk", "gray", "png", "exif"], train[1:5]):
        encoded[name] = _oddity(kind, blobs[name])
    truncated = train[5]
    good_copy = encoded[truncated]
    encoded[truncated] = good_copy[: len(good_copy) // 2]
    missing = f"{next(names)}.jpg"
    info.loc[len(info)] = dict(rows[0], new_filename=missing, title="Lost")

    half = len(train) // 2
    for zname, folder, files in [("train_1.zip", "train_1", train[:half]), ("train_2.zip", "train_2", train[half:]),
                                 ("test.zip", "test", test)]:
        with zipfile.ZipFile(out / zname, "w") as z:
            for name in files:
                z.writestr(f"{folder}/{name}", encoded[name])
    with zipfile.ZipFile(out / "replacements_for_corrupted_files.zip", "w") as z:
        z.writestr(f"train/{truncated}", good_copy)
    info.to_csv(out / "all_data_info.csv", index=False)

    # Submission: every pair inside each group of test images.
    order = rng.permutation(test)
    by_name = info.set_index("new_filename")
    sub, sol = [], []
    for g in np.array_split(order, n_groups):
        for a, b in itertools.combinations(sorted(g), 2):
            ra, rb = by_name.loc[a], by_name.loc[b]
            seen = ra.artist_group == "train_and_test" and rb.artist_group == "train_and_test"
            sub.append((len(sub), a, b))
            sol.append((len(sol), int(ra.artist == rb.artist), "seen" if seen else "unseen"))
    pd.DataFrame(sub, columns=["index", "image1", "image2"]).to_csv(out / "submission_info.csv", index=False)
    pd.DataFrame(sol, columns=["index", "sameArtist", "pairKind"]).to_csv(out / "solution_painter.csv", index=False)
    return out
