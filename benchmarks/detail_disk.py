"""Disk use of ``painter clean --detail`` on the real competition's size distribution.

The pixels of each of the 103,250 paintings (``pbn_real_metadata/all_data_info.csv``: ``pixelsx``,
``pixelsy``) after the cap, times the bytes per pixel of painter's JPEGs (quality 95) as measured
by re-encoding ``best_artworks_fullsize``'s paintings at each cap; the 256 px squares beside them.

    python benchmarks/detail_disk.py [--caps 1024,1536,2048] [--write]
"""
import argparse
import io

import numpy as np
import pandas as pd

from shared_data import SOURCES, write_results
from painter.data.images import load_image

p = argparse.ArgumentParser()
p.add_argument("--caps", default="1024,1536,2048")
p.add_argument("--write", action="store_true", help="write the table into RESULTS.md (its 'detail-disk' section)")
args = p.parse_args()
caps = [int(c) for c in args.caps.split(",")]

info = pd.read_csv(SOURCES / "pbn_real_metadata" / "all_data_info.csv", usecols=["pixelsx", "pixelsy"]).dropna()
w, h = info.pixelsx.to_numpy(float), info.pixelsy.to_numpy(float)
paintings = sorted((SOURCES / "best_artworks_fullsize").rglob("*.jpg"))[::5]


def bytes_per_pixel(cap):
    """Mean bytes per pixel of painter's quality-95 JPEGs of the sample, each capped at ``cap``."""
    sizes, pixels = 0, 0
    for path in paintings:
        im = load_image(path, max_side=cap)
        buf = io.BytesIO()
        im.save(buf, "JPEG", quality=95)
        sizes += buf.tell()
        pixels += im.width * im.height
    return sizes / pixels


rows = []
square_bpp = bytes_per_pixel(256)
rows.append({"copy": "256 px squares", "GB": len(w) * 256 * 256 * square_bpp / 1e9,
             "bytes per pixel": square_bpp, "median megapixels": 256 * 256 / 1e6})
for cap in caps:
    f = np.minimum(1.0, cap / np.maximum(w, h))
    capped = np.round(w * f) * np.round(h * f)
    bpp = bytes_per_pixel(cap)
    rows.append({"copy": f"detail, long side <= {cap}", "GB": capped.sum() * bpp / 1e9, "bytes per pixel": bpp,
                 "median megapixels": float(np.median(capped)) / 1e6})
table = pd.DataFrame(rows)
text = (f"{len(w):,} paintings (median long side {np.median(np.maximum(w, h)):.0f} px, "
        f"{(np.maximum(w, h) > 2000).mean():.0%} over 2,000 px); bytes per pixel from {len(paintings)} "
        f"best_artworks paintings re-encoded at quality 95.\n\n" + table.to_markdown(index=False, floatfmt=".3f"))
print(text)
if args.write:
    write_results("detail-disk", text)
