"""Views of a painting at its own scale: the whole painting, and tiles cut at a fixed number of
painting pixels per network pixel, so that the network sees the brushwork a thumbnail has lost.

A painting is read with its long side capped at ``MAX_SIDE`` (big JPEGs decoded at a reduced
scale, ``Image.draft``, so a 100-megapixel scan never sits in memory whole). At scale ``s``
a tile covers ``s * size`` pixels of that image and is reduced to ``size``; up to
``TILES_PER_SIDE`` tiles per side are spread evenly over the painting (overlapping where they
fit fewer than that times). Tiles at scale ``s`` are cut only where they see the painting at
least ``MIN_GAIN`` times closer than the whole view does (short side >= ``MIN_GAIN * s * size``):
a thumbnail, or the 256 px square of a cleaned folder, has the whole view alone.
"""
from __future__ import annotations

import math

import numpy as np

from .images import fit_square, load_image, read_size

__all__ = ["MAX_SIDE", "TILES_PER_SIDE", "MIN_GAIN", "tile_scales", "view_boxes", "tile_boxes", "has_tiles",
           "read_views"]

MAX_SIDE = 4096
TILES_PER_SIDE = 3
MIN_GAIN = 1.5


def _starts(extent: int, tile: int, per_side: int) -> list:
    """Left (or top) edges of the tiles along one side: evenly spread from edge to edge."""
    n = min(per_side, math.ceil(extent / tile))
    if n == 1:
        return [(extent - tile) // 2]
    return [round(i * (extent - tile) / (n - 1)) for i in range(n)]


def tile_boxes(width: int, height: int, tile: int, per_side: int = TILES_PER_SIDE) -> list:
    """Boxes ``(left, top, right, bottom)`` of the square tiles of side ``tile`` pixels on a
    ``width`` x ``height`` image, rows top to bottom; ``[]`` when the image is smaller than a tile."""
    if tile > min(width, height):
        return []
    return [(x, y, x + tile, y + tile) for y in _starts(height, tile, per_side)
            for x in _starts(width, tile, per_side)]


def _capped(width: int, height: int, max_side: int = MAX_SIDE) -> tuple:
    """The size a painting is read at: long side at most ``max_side``, aspect kept."""
    f = min(1.0, max_side / max(width, height))
    return max(1, round(width * f)), max(1, round(height * f))


def tile_scales(width: int, height: int, size: int, scales) -> list:
    """The ``scales`` at which a painting read at ``width`` x ``height`` has tiles."""
    return [s for s in scales if min(width, height) >= MIN_GAIN * s * size]


def view_boxes(width: int, height: int, size: int, scales) -> list:
    """``(scale, box)`` of every tile of a painting read at ``width`` x ``height``, in the order
    ``read_views`` gives them."""
    return [(s, box) for s in tile_scales(width, height, size, scales) for box in tile_boxes(width, height, s * size)]


def has_tiles(source, size: int, scales, max_side: int = MAX_SIDE) -> bool:
    """True when the painting in ``source`` (its header alone is read) has tiles at some scale;
    False also for a file that cannot be read (reading it for the whole view says why)."""
    dims = read_size(source)
    return dims is not None and bool(tile_scales(*_capped(*dims, max_side), size, scales))


def read_views(source, size: int, scales, max_side: int = MAX_SIDE) -> tuple:
    """The views of one painting.

    Returns
    -------
    (whole, tiles, scale_of) : uint8 arrays ``(size, size, 3)``, the painting as ``load_array``
        gives it, and ``(n, size, size, 3)``, its tiles (scales in order, each scale's rows top
        to bottom), and an int array ``(n,)``: each tile's scale.

    Raises
    ------
    ImageError
        As ``load_image``.
    """
    im = load_image(source, max_side=max_side)
    whole = np.asarray(fit_square(im, size), dtype=np.uint8)
    tiles, groups = [], []
    for s, box in view_boxes(*im.size, size, scales):
        tile = im.crop(box)
        # a box filter at an integer factor: each network pixel the mean of s x s painting pixels
        tiles.append(np.asarray(tile.reduce(s) if s > 1 else tile, dtype=np.uint8))
        groups.append(s)
    stack = np.stack(tiles) if tiles else np.zeros((0, size, size, 3), np.uint8)
    return whole, stack, np.array(groups, dtype=int)

