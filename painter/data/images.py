"""The one image loader every part of painter uses.

Real painting collections (the Kaggle Painter by Numbers data among them) hold CMYK and
grayscale JPEGs, palette and alpha PNGs, PNG content behind a ``.jpg`` name, EXIF-rotated
photos, truncated files and images of several hundred megapixels. ``load_image`` turns all of
them into a plain RGB ``PIL.Image`` or raises ``ImageError`` naming the file and the reason.
"""
from __future__ import annotations

import contextlib
import io
import math
import os
import threading
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

# Pillow refuses images above 2 * MAX_IMAGE_PIXELS (~179 MP) as decompression bombs. Paintings
# scanned at museum resolution exceed that, so painter raises the limit to a fixed, still finite
# value while it opens a file, instead of switching the protection off for the whole process.
MAX_PIXELS = 1_000_000_000
_limit_lock = threading.Lock()

__all__ = ["ImageError", "load_image", "read_size", "load_array", "fit_square", "not_a_file", "MAX_PIXELS"]


class ImageError(ValueError):
    """An image that cannot be used. ``str(err)`` is one line: ``<file>: <reason>``."""

    def __init__(self, path, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


@contextlib.contextmanager
def _raised_pixel_limit(max_pixels: int):
    with _limit_lock:
        old = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = max_pixels // 2  # Pillow errors at twice this value
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                yield
        finally:
            Image.MAX_IMAGE_PIXELS = old


def _to_rgb(im: Image.Image) -> Image.Image:
    """Return an RGB image; transparent pixels are put on white, as a painting's canvas."""
    if im.mode == "RGB":
        return im
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        canvas = Image.new("RGB", rgba.size, (255, 255, 255))
        canvas.paste(rgba, mask=rgba.getchannel("A"))
        return canvas
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(im, dtype=np.float64)
        top = arr.max() if arr.max() > 255 else 255.0
        im = Image.fromarray((arr * (255.0 / top)).clip(0, 255).astype(np.uint8), "L")
    return im.convert("RGB")  # CMYK, L, 1, P, YCbCr, F


def read_size(source) -> tuple | None:
    """``(width, height)`` of an image file from its header alone (as stored, before any EXIF
    rotation), or None when it cannot be read."""
    try:
        with _raised_pixel_limit(MAX_PIXELS), Image.open(source) as im:
            return im.size
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return None


def load_image(source, size: int | None = None, *, name=None, max_pixels: int = MAX_PIXELS,
               max_side: int | None = None) -> Image.Image:
    """Open one image as an upright RGB ``PIL.Image``.

    Parameters
    ----------
    source : str, os.PathLike or bytes
        A file path, or the encoded file content (then ``name`` labels errors).
    size : int, optional
        The short side the caller will resize to. Big JPEGs are then decoded at a reduced
        scale (``Image.draft``) that still leaves the short side >= ``size``: far less memory
        and time for a 300-megapixel scan.
    max_pixels : int
        Largest image accepted (after draft reduction is not considered).
    max_side : int, optional
        Cap on the long side: a bigger image is returned reduced to it (a big JPEG decoded at
        the reduced scale that still leaves the long side >= ``max_side``).

    Raises
    ------
    ImageError
        Missing, empty, truncated, not an image, or larger than ``max_pixels``.
    """
    label = name or (source if not isinstance(source, (bytes, bytearray)) else "<bytes>")
    if isinstance(source, (bytes, bytearray)):
        stream = io.BytesIO(source)
    else:
        path = Path(source)
        if not path.is_file():
            raise ImageError(label, not_a_file(path))
        if path.stat().st_size == 0:
            raise ImageError(label, "file is empty")
        stream = path
    try:
        # Image.open reads only the header (where Pillow checks the pixel limit), so the lock is
        # held briefly and threads decode in parallel. Pillow identifies the format from the
        # content, so PNG bytes behind a .jpg work.
        with _raised_pixel_limit(max_pixels):
            im = Image.open(stream)
        with im:
            if max_side and im.format == "JPEG":
                f = min(1.0, max_side / max(im.size))
                im.draft(None, (math.ceil(im.width * f), math.ceil(im.height * f)))
            elif size and im.format == "JPEG":
                im.draft(None, (size, size))
            im.load()
            out = _to_rgb(ImageOps.exif_transpose(im))
        if max_side and max(out.size) > max_side:
            out.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
        return out
    except Image.DecompressionBombError as e:
        raise ImageError(label, f"image too large ({e})") from None
    except UnidentifiedImageError:
        raise ImageError(label, "not an image file Pillow can read") from None
    except (OSError, SyntaxError, ValueError) as e:
        reason = str(e) or type(e).__name__
        if "truncated" in reason.lower() or "broken data stream" in reason:
            reason = f"truncated or corrupt image data ({reason})"
        raise ImageError(label, reason) from None


def not_a_file(path) -> str:
    """Why ``path``, which is not a file, cannot be read as one."""
    return "is a folder, not an image file" if os.path.isdir(path) else "file not found"


def fit_square(im: Image.Image, size: int) -> Image.Image:
    """Resize the short side to ``size`` and centre-crop to ``size`` x ``size``."""
    return ImageOps.fit(im, (size, size), method=Image.Resampling.BICUBIC)


def load_array(source, size: int = 224, **kwargs) -> np.ndarray:
    """Load ``source`` as a ``(size, size, 3)`` uint8 array (short side resized, centre crop)."""
    return np.asarray(fit_square(load_image(source, size, **kwargs), size), dtype=np.uint8)


def is_image_name(name: str | os.PathLike) -> bool:
    """True for file names with a common image extension."""
    return str(name).lower().endswith((".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp"))
