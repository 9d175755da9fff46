"""The ``painter`` command: every notebook step, headless.

    painter synth OUT                         write a synthetic Kaggle-layout competition
    painter clean KAGGLE_DIR --out DATA_DIR   archives -> clean JPEGs + cleaning_report.csv
    painter train DATA_DIR --out MODEL_DIR    train a same-artist model
    painter submit MODEL_DIR DATA_DIR SUBMISSION_INFO --out submission.csv
    painter score SUBMISSION SOLUTION         ROC AUC overall / seen / unseen
    painter predict-pair A B [--model DIR]    probability that one artist painted both
    painter classify train|predict ...        artist / style / genre classifiers
    painter index DATA_DIR --out INDEX_DIR    FAISS index of paintings
    painter similar INDEX_DIR IMAGE -k 10     most similar paintings
    painter demo --out DIR                    all of the above on synthetic data
"""
from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _cmd_synth(a):
    from .data.synthetic import make_synthetic_kaggle
    path = make_synthetic_kaggle(a.out, n_artists=a.artists, n_test_only=a.test_only,
                                 paintings_per_artist=a.per_artist, size=a.size, seed=a.seed)
    print(f"synthetic competition written to {path}")


def _cmd_clean(a):
    from .data.cleaning import clean_kaggle, summarize_report
    report = clean_kaggle(a.kaggle_dir, a.out, size=a.size, workers=a.workers)
    print(summarize_report(report))
    print(f"report: {os.path.join(a.out, 'cleaning_report.csv')}")


def _cmd_train(a):
    from .same_artist.training import train
    # only the hyperparameters given: each method refuses the ones it does not have
    params = {k: v for k, v in (("epochs", a.epochs), ("pca_dim", a.pca_dim), ("log_std", a.log_std),
                                ("trainable_from", a.trainable_from), ("loss", a.loss)) if v is not None}
    if a.method == "siamese":   # fitted on the paintings: the backbone and crop size are its own
        params.update({k: v for k, v in (("backbone", a.backbone), ("image_size", a.image_size)) if v is not None})
    train(a.data_dir, a.out, method=a.method, spec=_spec(a), seed=a.seed, val_artists=a.val_artists, **params)


def _spec(a):
    from .features import DEFAULT_FEATURES, FeatureSpec
    return FeatureSpec(a.backbone or DEFAULT_FEATURES.backbone, a.image_size)


def _cmd_submit(a):
    from .same_artist.submit import submit
    submit(a.model_dir, a.data_dir, a.submission_info, a.out, chunk_size=a.chunk_size)


def _cmd_score(a):
    from .same_artist.submit import score_submission
    for kind, auc in score_submission(a.submission, a.solution).items():
        print(f"ROC AUC {kind:8s} {auc:.4f}")


def _cmd_predict_pair(a):
    from .same_artist.predict import load_pair_model, predict_pair
    model = load_pair_model(a.model)
    p = predict_pair(a.image_a, a.image_b, model=model)
    verdict = "same artist" if p >= model.threshold else "different artists"
    print(f"{p:.4f}\t{verdict}")


def _cmd_classify(a):
    from . import classify
    if a.action == "train":
        classify.train_classifier(a.data_dir, a.out, target=a.target, head=a.head, min_examples=a.min_examples,
                                  spec=_spec(a))
    else:
        for path, rows in classify.predict_files(a.model, a.images, top=a.top).items():
            print(path + "\t" + "\t".join(f"{label} {p:.3f}" for label, p in rows))


def _cmd_index(a):
    from .search import build_index_from_data
    build_index_from_data(a.data_dir, a.out, embedding=a.embedding, index_type=a.index_type, spec=_spec(a))


def _cmd_similar(a):
    from .search import SimilarityIndex
    index = SimilarityIndex.load(a.index_dir)
    table = index.query_file(a.image, k=a.k)
    print(table.to_string(index=False))
    if a.png:
        index.plot_neighbours(a.image, table, a.png)
        print(f"grid: {a.png}")


def _cmd_demo(a):
    from .demo import run_demo
    run_demo(a.out)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="painter", description="Same-artist detection for paintings.")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("synth", help="write a synthetic Kaggle-layout competition")
    s.add_argument("out")
    s.add_argument("--artists", type=int, default=10)
    s.add_argument("--test-only", type=int, default=3)
    s.add_argument("--per-artist", type=int, default=12)
    s.add_argument("--size", type=int, default=128)
    s.add_argument("--seed", type=int, default=0)
    s.set_defaults(func=_cmd_synth)

    s = sub.add_parser("clean", help="Kaggle archives -> clean RGB JPEGs and a report")
    s.add_argument("kaggle_dir")
    s.add_argument("--out", required=True)
    s.add_argument("--size", type=int, default=256, help="output side in pixels (smaller paintings are not enlarged)")
    s.add_argument("--workers", type=int, default=None)
    s.set_defaults(func=_cmd_clean)

    s = sub.add_parser("train", help="train a same-artist model")
    s.add_argument("data_dir")
    s.add_argument("--out", required=True)
    s.add_argument("--method", default="lda",
                   help="lda (default: style statistics, LDA + nearest-class-mean artist profiles), cosface, "
                        "bce (seed Siamese head), contrastive, triplet, siamese (seed network fitted end to end)")
    s.add_argument("--backbone", default=None,
                   help="backbone, or several joined by '+' (features concatenated); "
                        "default: efficientnet_lite0+efficientnet_lite1")
    s.add_argument("--image-size", type=int, default=None, help="default: each backbone's own size")
    s.add_argument("--epochs", type=int, default=None)
    s.add_argument("--val-artists", type=float, default=0.2, help="fraction of artists held out for validation")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--no-log-std", dest="log_std", action="store_false", default=None,
                   help="lda: use the style standard deviations as they are, not their log")
    s.add_argument("--pca-dim", type=int, default=None, help="lda: PCA whitening dimensions before LDA (default 384)")
    s.add_argument("--trainable-from", default=None, help="siamese: first layer or block fine-tuned (default block11)")
    s.add_argument("--loss", default=None, help="siamese: bce (default), contrastive or triplet")
    s.set_defaults(func=_cmd_train)

    s = sub.add_parser("submit", help="score every pair of submission_info.csv")
    s.add_argument("model_dir")
    s.add_argument("data_dir")
    s.add_argument("submission_info")
    s.add_argument("--out", required=True)
    s.add_argument("--chunk-size", type=int, default=1_000_000)
    s.set_defaults(func=_cmd_submit)

    s = sub.add_parser("score", help="ROC AUC of a submission against a solution")
    s.add_argument("submission")
    s.add_argument("solution")
    s.set_defaults(func=_cmd_score)

    s = sub.add_parser("predict-pair", help="probability that one artist painted both images")
    s.add_argument("image_a")
    s.add_argument("image_b")
    s.add_argument("--model", default=None)
    s.set_defaults(func=_cmd_predict_pair)

    s = sub.add_parser("classify", help="artist / style / genre classification")
    csub = s.add_subparsers(dest="action", required=True)
    t = csub.add_parser("train")
    t.add_argument("data_dir")
    t.add_argument("--out", required=True)
    t.add_argument("--target", choices=["artist", "style", "genre"], default="artist")
    t.add_argument("--head", choices=["dense", "cnn_rnn"], default="dense",
                   help="dense: on the cached features; cnn_rnn: a GRU over the last feature map (seed 003)")
    t.add_argument("--min-examples", type=int, default=2)
    t.add_argument("--backbone", default=None, help="default: efficientnet_lite0+efficientnet_lite1")
    t.add_argument("--image-size", type=int, default=None, help="default: each backbone's own size")
    t.set_defaults(func=_cmd_classify)
    t = csub.add_parser("predict")
    t.add_argument("model")
    t.add_argument("images", nargs="+")
    t.add_argument("--top", type=int, default=3)
    t.set_defaults(func=_cmd_classify)

    s = sub.add_parser("index", help="build a FAISS index of a data folder")
    s.add_argument("data_dir")
    s.add_argument("--out", required=True)
    s.add_argument("--embedding", default="backbone", help="'backbone' or a same-artist MODEL_DIR")
    s.add_argument("--index-type", choices=["flat", "ivf", "hnsw"], default="flat")
    s.add_argument("--backbone", default=None, help="with --embedding backbone; default: efficientnet_lite0+efficientnet_lite1")
    s.add_argument("--image-size", type=int, default=None)
    s.set_defaults(func=_cmd_index)

    s = sub.add_parser("similar", help="most similar paintings in an index")
    s.add_argument("index_dir")
    s.add_argument("image")
    s.add_argument("-k", type=int, default=10)
    s.add_argument("--png", default=None, help="also save a picture grid here")
    s.set_defaults(func=_cmd_similar)

    s = sub.add_parser("demo", help="synthetic data through every step")
    s.add_argument("--out", default="demo")
    s.set_defaults(func=_cmd_demo)
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except (FileNotFoundError, ValueError, RuntimeError) as e:
        print(f"painter {args.command}: error: {e}", file=sys.stderr)
        return 1
    return 0
