"""What context costs at the competition's scale: adapting the packaged model to n test images.

Times ``context.adapt`` without and with the collection's groups (``collection_groups``: k-means
of the collection, ``DRAWS`` draws) on synthetic feature rows, and prints the pair embedding's
width and the bytes of every test image's embedding. Kaggle's real test set has 23,817 images
(22 million pairs); pbn_dev's 3,167. Run it alone on the machine.

    python benchmarks/context_scale.py [--images 3167,23817] [--write]
"""
import argparse
import resource
import time

import numpy as np
import pandas as pd

from shared_data import write_results
from painter.same_artist.context import adapt
from painter.same_artist.predict import PACKAGED_MODEL, load_pair_model

p = argparse.ArgumentParser()
p.add_argument("--images", default="3167,23817")
p.add_argument("--write", action="store_true", help="write the table into RESULTS.md (its 'context-scale' section)")
args = p.parse_args()

model = load_pair_model(PACKAGED_MODEL, exported=False)
width = model.embedder.input_shape[1]
rows = []
for n in (int(x) for x in args.images.split(",")):
    # features around an offset: a collection from another source, so that the model moves
    rng = np.random.default_rng(0)
    F = (rng.normal(size=width) + rng.normal(size=(n, width))).astype(np.float32)
    for groups in (False, True):
        start = time.perf_counter()
        adapted = adapt(model, F, groups=groups)
        seconds = time.perf_counter() - start
        dim = adapted.embed_features(F[:2]).shape[1]
        rows.append({"test images": n, "groups": ", ".join(map(str, adapted.info["context"]["groups"])) or "none",
                     "adapt s": seconds, "embedding width": dim, "embeddings GB": n * dim * 4 / 1e9,
                     "peak RSS GB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6})
        print(rows[-1], flush=True)
text = pd.DataFrame(rows).to_markdown(index=False, floatfmt=".2f")
print(text)
if args.write:
    write_results("context-scale", text)
