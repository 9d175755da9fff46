"""Does a backbone tuned on museum photographs too carry better across sources? Validation only.

The artist-tuned Lite0 of the default features (``weights="artists"``) learned from 448 WikiArt
artists, fine-tuned from ImageNet's weights (``benchmarks/recipes/finetune.py``). Step 1 does the
same with the same settings on those artists' paintings and public_art's training part together
(``method="siamese"``, contrastive loss, ``--epochs`` after the head's), holding out a fifth of its
artists; ``--weights`` gives a run's weights instead. Step 2: the default features and the same
features with that Lite0 are compared on collections that neither backbone learned: the WikiArt
artists neither learned (held out whole, with held-out paintings of the others for seen pairs) and a
fifth of public_art's training artists drawn among those neither learned
(``shared_data.two_source_collections``); ``lda`` fitted on the rest of both sources, without and
with context. public_art's seen pairs favour the new Lite0: it learned from those very paintings,
where the default one never saw a museum photograph.

    python benchmarks/experiments/museum_backbone.py [--epochs 8] [--weights FILE] [--seeds 0,1,2]

"""
import argparse
import sys
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # benchmarks/: shared_data

from shared_data import (RUNS, SOURCES, _embed_shifted, clean_pbn_dev, known_artists, split_source, two_source_aucs,
                         two_source_collections, two_source_fit, two_source_table)
from painter.data.pairs import validation_pairs, validation_split
from painter.features import DEFAULT_FEATURES, FeatureSpec, extract_features, std_columns
from painter.same_artist.context import DESIGN_EFFECT
from painter.same_artist.lda import profile_score
from painter.same_artist.training import load_training_images

p = argparse.ArgumentParser()
p.add_argument("--weights", default=None, help="a fine-tuned Lite0's weights file (its .artists.txt beside it) "
               "instead of step 1")
p.add_argument("--epochs", type=int, default=8, help="step 1: fine-tuning epochs after the head's")
p.add_argument("--out", default=str(RUNS / "museum_backbone"))
p.add_argument("--seeds", default="0,1,2")
args = p.parse_args()
paths, labels = load_training_images([clean_pbn_dev(RUNS / "pbn_clean"), SOURCES / "wikiart_extra"])
pa_paths, pa_labels = load_training_images(split_source("public_art", exclude=known_artists())[0])


def fine_tune(out):
    """Step 1: the siamese Lite0 on the WikiArt artists the default Lite0 learned and public_art's
    training part (a folder-per-artist tree of links), as the artist-tuned weights were made."""
    from painter.same_artist.training import train
    tree = out / "paintings"
    learned = DEFAULT_FEATURES.trained_artists
    for k, (path, artist) in enumerate(zip([*paths, *pa_paths], [*labels, *pa_labels])):
        link = tree / artist / f"{k}_{Path(path).name}"
        if (artist in learned or k >= len(paths)) and not link.exists():
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(Path(path).resolve())
    train(tree, out / "siamese", method="siamese", base="none", loss="contrastive", pairs_per_epoch=8192,
          epochs_head=1, epochs_finetune=args.epochs, patience=3)
    return out / "siamese" / "backbone.weights.h5"


weights = args.weights or fine_tune(Path(args.out))
tuned = FeatureSpec(DEFAULT_FEATURES.backbone, weights=(str(weights), "artists"))
known = DEFAULT_FEATURES.trained_artists | tuned.trained_artists
new_w, new_p = sorted(set(labels) - known), sorted(set(pa_labels) - known)
print(f"artists no backbone learned: {len(new_w)} of WikiArt's {len(set(labels))}, "
      f"{len(new_p)} of public_art's {len(set(pa_labels))}", flush=True)
features = {}
for name, spec in (("default (artist-tuned Lite0)", DEFAULT_FEATURES), ("Lite0 tuned on both sources", tuned)):
    F, failed = extract_features(paths, spec)
    P, failed_p = extract_features(pa_paths, spec)
    if failed or failed_p:
        sys.exit(f"unreadable paintings: {len(failed) + len(failed_p)}")
    features[name] = (F, P)
mask = std_columns(DEFAULT_FEATURES)

rows = []
for seed in (int(s) for s in args.seeds.split(",")):
    fit, val_seen, val_unseen = validation_split(labels, val_artists=len(new_w) / len(set(labels)), seed=seed,
                                                 prefer=new_w)
    split = (fit, *validation_pairs(labels, val_seen, val_unseen, seed=seed + 1))
    c = two_source_collections(labels, split, pa_labels, seed, new_p)
    for name, (F, P) in features.items():
        m = two_source_fit(c, F, P, labels, pa_labels, mask)
        for effect in (0, DESIGN_EFFECT):
            s_w = profile_score(*_embed_shifted(m.base, m.Xw, effect), c.iw, c.jw, m.T, m.w)
            s_p = profile_score(*_embed_shifted(m.base, m.Xp, effect), c.ip, c.jp, m.T, m.w)
            rows.append({"seed": seed, "features": name, "context": bool(effect), **two_source_aucs(c, s_w, s_p)})

            print(rows[-1], flush=True)
print(two_source_table(rows, ["features", "context"]).to_string(float_format=lambda x: f"{x:.4f}"))
