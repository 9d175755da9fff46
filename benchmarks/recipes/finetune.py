"""Learning from pixels against frozen features, on pbn_dev's test pairs, with 175 / 70 / 30 training artists.

    python benchmarks/recipes/finetune.py [--artists 175,70,30] [--methods siamese,lda-learned,lda-lite0,lda]
                                  [--data runs/pbn_clean] [--siamese '{"epochs_finetune": 8}']
                                  [--also ../shared/data/wikiart_extra]

Methods (each trained on the training paintings of the chosen artists only; every choice made on
their validation pairs; each in its own process, so its peak memory is its own):

* ``siamese``: the seed project's Siamese network fitted end to end (``method="siamese"``)
* ``lda-learned``: ``lda`` on the style features of the backbone that run fine-tuned. The same
  split (seed, ``val_artists``) holds out the same artists, so the backbone never saw the
  validation artists, nor any test painting or test-only artist
* ``lda-learned+lite1``: ``lda`` on that fine-tuned Lite0 beside ImageNet's Lite1 (the default
  features with the learned Lite0)
* ``lda-weights``: ``lda`` on the features of ``--backbones`` (default: the default features') with
  the weights of ``--weights``, a JSON list of one entry per backbone (e.g. the fine-tuned Lite0 and
  Lite1 of two earlier runs)
* ``lda-lite0``: ``lda`` on Lite0's ImageNet weights (the same backbone before fine-tuning)
* ``lda``: today's default features (Lite0 + Lite1 ``weights="artists"``; ImageNet's in earlier versions)

``--flip``: the ``lda`` methods' features averaged over each painting and its mirror image
(``FeatureSpec(flip=True)``: twice the embedding time).

``siamese:triplet`` / ``lda-learned:triplet``: the same with the siamese method's ``loss="triplet"``
(or ``contrastive``).

Every method is trained with ``base="none"``: the packaged model knows pbn_dev's training artists and
would hide what each method learns by itself. ``--also DIR``: more training paintings (a
folder-per-artist tree, e.g. ``wikiart_extra``: 385 more artists), for every learned part; the
results go to ``--out``/``<artists>+also``.

With fewer artists, a folder-per-artist copy of their training paintings (symlinks) is made under
``--out``, and test pairs involving a left-out training artist are dropped: "seen" then means the
chosen artists, "unseen" pbn_dev's test-only artists.
"""
import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # benchmarks/: shared_data

from shared_data import RUNS, artist_subset, clean_pbn_dev, pair_artists, submit_and_score

METHODS = "siamese,lda-learned,lda-lite0,lda"


def run_one(args):
    """Train, submit and score one method; print one JSON row."""
    from painter.features import FeatureSpec
    from painter.same_artist.training import train
    data = Path(args.data)
    out = Path(args.out) / (f"{args.artists}+also" if args.also else str(args.artists))
    train_dir, _, left_out = artist_subset(data, args.artists, Path(args.out) / f"pbn_{args.artists}")
    name, _, loss = args.run.partition(":")      # siamese:triplet = the siamese method with loss="triplet"
    tuned = out / ("siamese" + (f":{loss}" if loss else "")) / "backbone.weights.h5"
    kwargs = {"siamese": dict(method="siamese", **json.loads(args.siamese), **({"loss": loss} if loss else {})),
              "lda-learned": dict(spec=FeatureSpec("efficientnet_lite0", weights=str(tuned))),
              "lda-learned+lite1": dict(spec=FeatureSpec("efficientnet_lite0+efficientnet_lite1",
                                                         weights=(str(tuned), "imagenet"))),
              "lda-weights": dict(spec=FeatureSpec(args.backbones, weights=tuple(json.loads(args.weights))))
              if args.weights else None,
              "lda-lite0": dict(spec=FeatureSpec("efficientnet_lite0")),
              "lda": {}}[name]
    flip = args.flip and name != "siamese"
    run = args.run + ("+flip" if flip else "")   # its own folder and row
    if flip:
        from dataclasses import replace

        from painter.features import DEFAULT_FEATURES
        kwargs["spec"] = replace(kwargs.get("spec", DEFAULT_FEATURES), flip=True)
    t = time.time()
    also = [args.also] if args.also else []
    model = train(train_dir, out / run, also=also, base="none", progress=False, **kwargs)
    t_train = time.time() - t
    a1, a2 = pair_artists(data)
    keep = ~(np.isin(a1, list(left_out)) | np.isin(a2, list(left_out)))
    t = time.time()
    m, _ = submit_and_score(out / run, data, model.threshold, keep)
    t_submit = time.time() - t
    v = model.info["validation"]
    print(json.dumps({"artists": args.artists, "also": args.also or "", "method": run, "seen AUC": m["seen"]["auc"],
                      "unseen AUC": m["unseen"]["auc"], "seen acc": m["seen"]["accuracy"],
                      "unseen acc": m["unseen"]["accuracy"], "val seen AUC": v["seen"]["auc"],
                      "val unseen AUC": v["unseen"]["auc"], "train s": round(t_train, 1),
                      "submit s": round(t_submit, 1), "test pairs": int(keep.sum()),
                      "peak MB": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}), flush=True)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--artists", default="175,70,30")
    p.add_argument("--methods", default=METHODS)
    p.add_argument("--data", default=str(RUNS / "pbn_clean"))
    p.add_argument("--out", default=str(RUNS / "finetune"))
    p.add_argument("--siamese", default="{}", help="the siamese method's hyperparameters, as JSON")
    p.add_argument("--also", default=None, help="more training paintings, a folder per artist (for every method)")
    p.add_argument("--weights", default=None,
                   help="lda-weights: a JSON list, one weights entry per backbone of --backbones")
    p.add_argument("--backbones", default=None,
                   help="lda-weights: the backbones, joined by '+' (default: the default features'); "
                        "the run's folder is lda-weights whatever they are: give each its own --out")
    p.add_argument("--flip", action="store_true", help="lda methods: features of each painting and its mirror image")
    p.add_argument("--run", default=None, help=argparse.SUPPRESS)   # one method in this process
    args = p.parse_args()
    from painter.features import DEFAULT_FEATURES
    args.backbones = args.backbones or DEFAULT_FEATURES.backbone
    if "lda-weights" in args.methods.split(",") and not args.weights:
        p.error("--methods lda-weights needs --weights, a JSON list of one weights entry per backbone")
    if args.run:
        args.artists = int(args.artists)
        return run_one(args)
    if not (Path(args.data) / "all_data_info.csv").is_file():
        clean_pbn_dev(args.data)
    rows = []
    for n in args.artists.split(","):
        for method in args.methods.split(","):
            cmd = [sys.executable, __file__, "--run", method, "--artists", n, "--data", args.data, "--out", args.out,
                   "--siamese", args.siamese] + (["--also", args.also] if args.also else []) + \
                  (["--weights", args.weights] if args.weights else []) + (["--flip"] if args.flip else []) + \
                  ["--backbones", args.backbones]
            with subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True) as child:
                for line in child.stdout:      # the child's log, as it goes
                    print(line, end="", flush=True)
            if child.returncode:
                sys.exit(f"{' '.join(cmd)} failed")
            rows.append(json.loads(line))
    table = pd.DataFrame(rows)
    Path(args.out).mkdir(parents=True, exist_ok=True)
    table.to_csv(Path(args.out) / "results.csv", index=False)
    try:
        print(table.to_markdown(index=False, floatfmt=".3f"))
    except ImportError:  # pandas needs the optional tabulate package for markdown
        print(table.to_string(index=False))


if __name__ == "__main__":
    main()
