"""The ``painter`` command: every notebook step, headless.

    painter synth OUT                         write a synthetic Kaggle-layout competition
    painter clean KAGGLE_DIR --out DATA_DIR   archives -> clean JPEGs + cleaning_report.csv
    painter train DATA_DIR --out MODEL_DIR    train a same-artist model
    painter submit MODEL_DIR DATA_DIR SUBMISSION_INFO --out submission.csv
    painter score SUBMISSION SOLUTION         ROC AUC overall / seen / unseen
    painter predict-pair A B [--model DIR]    probability that one artist painted both
    painter evaluate FOLDER [--model DIR]     AUC and verdict rates on a labelled collection
    painter classify train|predict ...        artist / style / genre classifiers
    painter index DATA_DIR --out INDEX_DIR    FAISS index of paintings
    painter similar INDEX_DIR IMAGE -k 10     most similar paintings
    painter attribute IMAGE --reference DIR   which reference artist painted it, or none of them
    painter explain A B --png out.png         occlusion maps: which regions make A and B alike
    painter demo --out DIR                    all of the above on synthetic data

``painter --cluster ADDRESS <command>`` embeds on a Dask cluster's workers (``painter.features.cluster``).

A mistake in a file or argument given prints one line, ``painter <command>: error: <path>:
<what is wrong>[; <what to do>]``, on stderr and exits with 1 (``--debug`` adds the traceback);
a usage mistake exits with 2; any other exception is a bug: its traceback, and exit code 3.
"""
from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
import traceback
import warnings

from .commands import (_cmd_attribute, _cmd_classify, _cmd_clean, _cmd_demo, _cmd_evaluate, _cmd_explain,
                       _cmd_index, _cmd_predict_pair, _cmd_score, _cmd_similar, _cmd_submit, _cmd_synth,
                       _cmd_train, verdict)  # noqa: F401 (verdict: read from here)
from .data.images import ImageError
from .errors import BackboneError, InputError, ParameterError, describe, first_line
from .hyperparameter_options import add_hyperparameters
from .quiet import import_tensorflow_quietly
from .runtime import deferred_exports
from .vector_store import INDEX_TYPES


ZOOM_HELP = ("n > 1: the features also hold the mean statistics of n x n views of each painting, each "
             "enlarged n times (brushwork at n times its scale); one per backbone joined by ',', e.g. 2,1 "
             "(+0.002 AUC for 2.4x the embedding time; with --base none: the packaged base reads whole "
             "paintings); default 1: whole paintings only")
VIEWS_HELP = ("scales at which tiles of each painting are also seen, in painting pixels per network pixel, "
              "joined by ',' (e.g. 1,2); the features pool the whole painting and its tiles. For collections "
              "at their own resolution (a cleaned folder's detail copy: painter clean --detail); a thumbnail "
              "has no tiles and keeps its whole-painting features")
VIEW_POOL_HELP = "with --views: 'mean' of every view, or 'scales' (the whole painting and each scale weigh the same)"
INDEX_TYPE_HELP = "ivfsq: bytes instead of floats, for millions of paintings (filled in chunks)"
CONTEXT_HELP = ("paintings of the collection the images come from (a folder, a text file listing them): the model "
                "is adapted to their source first; give it for paintings from another source than WikiArt")
WEIGHTS_HELP = ("backbone weights: 'artists' (tuned to tell artists apart; the default for Lite0 and Lite1), "
                "'imagenet' (the default for the others), or weights files; one entry per backbone, joined by ','")


def build_parser(hyperparameters: bool = True) -> argparse.ArgumentParser:
    """The ``painter`` parser; ``hyperparameters=False`` leaves out ``train``'s method options,
    read from the estimators, whose import loads Keras (other commands start without it)."""
    p = argparse.ArgumentParser(prog="painter", description="Same-artist detection for paintings.")
    p.add_argument("--debug", action="store_true", help="show the Python traceback of an error in an input")
    p.add_argument("--cluster", metavar="ADDRESS", default=None,
                   help="embed on this Dask scheduler's workers (default: $PAINTER_DASK_SCHEDULER; needs "
                        "painter[cluster] and a feature cache every worker reaches at the same path)")
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
    s.add_argument("--detail", type=int, default=None, metavar="PIXELS",
                   help="also keep each painting at its own resolution, long side capped at PIXELS (e.g. 1536), "
                        "in DATA_DIR/detail/ (read by features with --views)")
    s.set_defaults(func=_cmd_clean)

    s = sub.add_parser("train", help="train a same-artist model")
    s.add_argument("data_dir")
    s.add_argument("--out", required=True)
    s.add_argument("--method", default="lda",
                   help="lda (default: style statistics, LDA + nearest-class-mean artist profiles), cosface, "
                        "bce (the seed project's |A-B| pair head on frozen features), contrastive, triplet, "
                        "siamese (the seed project's network fitted end to end on the images)")
    s.add_argument("--backbone", default=None,
                   help="backbone, or several joined by '+' (features concatenated); "
                        "default: efficientnet_lite0+efficientnet_lite1")
    s.add_argument("--image-size", type=int, default=None, help="default: each backbone's own size")
    s.add_argument("--weights", default=None, help=WEIGHTS_HELP)
    s.add_argument("--zoom", default=None, help=ZOOM_HELP)
    s.add_argument("--views", default=None, help=VIEWS_HELP)
    s.add_argument("--view-pool", choices=("mean", "scales"), default="mean", help=VIEW_POOL_HELP)
    s.add_argument("--also", action="append", default=[], metavar="DIR",
                   help="more training paintings (a cleaned folder or a folder per artist); repeatable")
    s.add_argument("--other-source", action="append", default=[], metavar="DIR",
                   help="more training paintings from another source than DATA_DIR (e.g. museum photographs "
                        "beside digital reproductions): learned as --also is, and the model learns to tell "
                        "the sources apart, so that questions without context are answered as each source "
                        "needs; repeatable")
    s.add_argument("--base", default="packaged",
                   help="the model this one builds on: 'packaged' (default), 'none', or a model folder")
    s.add_argument("--val-artists", type=float, default=0.2, help="fraction of artists held out for validation")
    s.add_argument("--seed", type=int, default=0)
    if hyperparameters:
        s.set_defaults(hyperparameters=add_hyperparameters(s))
    s.set_defaults(func=_cmd_train)

    s = sub.add_parser("submit", help="score every pair of submission_info.csv")
    s.add_argument("model_dir")
    s.add_argument("data_dir")
    s.add_argument("submission_info")
    s.add_argument("--out", required=True)
    s.add_argument("--chunk-size", type=int, default=1_000_000)
    s.add_argument("--no-context", dest="context", action="store_false",
                   help="score with the model as trained, not adapted to the test images")
    s.add_argument("--no-groups", dest="groups", action="store_false",
                   help="with context, leave the test images' own groups out of the artist profiles")
    s.set_defaults(func=_cmd_submit)

    s = sub.add_parser("score", help="ROC AUC of a submission against a solution")
    s.add_argument("submission")
    s.add_argument("solution")
    s.set_defaults(func=_cmd_score)

    s = sub.add_parser("predict-pair", help="probability that one artist painted both images")
    s.add_argument("image_a")
    s.add_argument("image_b")
    s.add_argument("--model", default=None)
    s.add_argument("--context", default=None, help=CONTEXT_HELP)
    s.set_defaults(func=_cmd_predict_pair)

    s = sub.add_parser("evaluate", help="how a same-artist model does on a labelled collection (a folder per artist)")
    s.add_argument("collection")
    s.add_argument("--model", default=None)
    s.add_argument("--context", default=None, help=CONTEXT_HELP + "; 'self': the collection's own paintings")
    s.add_argument("--max-pairs", type=int, default=5_000_000,
                   help="past this many pairs: every same-artist pair and a sample of the others")
    s.add_argument("--out", default=None, help="folder for evaluation.json, artists.csv, roc.png, scores.png")
    s.set_defaults(func=_cmd_evaluate)

    s = sub.add_parser("classify", help="artist / style / genre classification")
    csub = s.add_subparsers(dest="action", required=True)
    t = csub.add_parser("train")
    t.add_argument("data_dir")
    t.add_argument("--out", required=True)
    t.add_argument("--target", choices=["artist", "style", "genre"], default="artist")
    t.add_argument("--head", choices=["dense", "cnn_rnn"], default="dense",
                   help="dense: on the cached features; cnn_rnn: a GRU over the last feature map "
                        "(as the seed projects' CNN+RNN classifier)")
    t.add_argument("--min-examples", type=int, default=2)
    t.add_argument("--backbone", default=None, help="default: efficientnet_lite0+efficientnet_lite1")
    t.add_argument("--image-size", type=int, default=None, help="default: each backbone's own size")
    t.add_argument("--weights", default=None, help=WEIGHTS_HELP)
    t.add_argument("--zoom", default=None, help=ZOOM_HELP)
    t.add_argument("--views", default=None, help=VIEWS_HELP)
    t.add_argument("--view-pool", choices=("mean", "scales"), default="mean", help=VIEW_POOL_HELP)
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
    s.add_argument("--index-type", choices=INDEX_TYPES, default="flat", help=INDEX_TYPE_HELP)
    s.add_argument("--backbone", default=None,
                   help="with --embedding backbone; default: efficientnet_lite0+efficientnet_lite1")
    s.add_argument("--image-size", type=int, default=None)
    s.add_argument("--weights", default=None, help=WEIGHTS_HELP)
    s.add_argument("--zoom", default=None, help=ZOOM_HELP)
    s.add_argument("--views", default=None, help=VIEWS_HELP)
    s.add_argument("--view-pool", choices=("mean", "scales"), default="mean", help=VIEW_POOL_HELP)
    s.set_defaults(func=_cmd_index)

    s = sub.add_parser("similar", help="most similar paintings in an index")
    s.add_argument("index_dir")
    s.add_argument("image")
    s.add_argument("-k", type=int, default=10)
    s.add_argument("--png", default=None, help="also save a picture grid here")
    s.set_defaults(func=_cmd_similar)

    s = sub.add_parser("attribute", help="which reference artist painted an image, or none of them")
    s.add_argument("image")
    s.add_argument("--reference", required=True, help="a folder per artist, or a cleaned data folder")
    s.add_argument("--model", default=None, help="same-artist model (default: the packaged one); its folder's "
                                                 "attribution.json calibrates the answer")
    s.add_argument("-k", type=int, default=5, help="candidate artists listed")
    s.add_argument("--prior-none", type=float, default=0.5,
                   help="prior probability that the painter is none of the reference artists")
    s.add_argument("--png", default=None, help="also save a figure here")
    s.add_argument("--no-context", dest="context", action="store_false",
                   help="the model as trained, not adapted to the reference paintings")
    s.add_argument("--index-type", choices=INDEX_TYPES, default="flat",
                   help="how the reference set is indexed (cached per type); " + INDEX_TYPE_HELP)
    s.set_defaults(func=_cmd_attribute)

    s = sub.add_parser("explain", help="occlusion maps of what makes two paintings look like one artist's")
    s.add_argument("image_a")
    s.add_argument("image_b")
    s.add_argument("--model", default=None)
    s.add_argument("--grid", type=int, default=7, help="patches per side")
    s.add_argument("--tiles", action="store_true",
                   help="how much each tile adds to the score (left out in turn): a model trained with --views, "
                        "or --context a collection at its own resolution")
    s.add_argument("--context", default=None, help="with --tiles: " + CONTEXT_HELP)
    s.add_argument("--png", default="explanation.png")
    s.set_defaults(func=_cmd_explain)

    s = sub.add_parser("demo", help="synthetic data through every step")
    s.add_argument("--out", default="demo")
    s.set_defaults(func=_cmd_demo)
    return p


# Commands that need no TensorFlow (the one-shot ones: when the exported models are cached,
# painter.runtime and PairModel.load run them without it, and import it quietly if not)
NO_TENSORFLOW = ("synth", "clean", "score", "predict-pair", "similar", "attribute", "explain")
# Commands that answer once: a missing export would make them wait 20 s or more, so they answer
# with Keras and leave the export to a background process for the next call (runtime.deferred_exports);
# the others (train, submit, index...) embed many paintings and export in-process, paying off at once.
ONE_SHOT = ("predict-pair", "similar", "attribute", "explain", "classify predict")

# What a user's file, argument or setting causes, and a file the system cannot read or write;
# any other exception (a plain ValueError from numpy or scikit-learn too) is a bug and keeps its traceback.
USER_ERRORS = (InputError, ImageError, ParameterError, BackboneError, OSError)
BUG = 3   # the exit code of any other exception (1: a user's mistake, 2: a usage mistake)


def main(argv=None) -> int:
    """Run a command; returns the exit code: 0 done, 1 bad input (one line on stderr). A usage
    mistake exits with 2 (argparse)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    command = next((word for word in argv if not word.startswith("-")), None)
    args = build_parser(hyperparameters=command == "train").parse_args(argv)
    name = " ".join([args.command] + ([args.action] if getattr(args, "action", None) else []))
    prog = f"painter {name}"
    if args.command not in NO_TENSORFLOW and not args.debug:
        import_tensorflow_quietly()
    with warnings.catch_warnings(), _library_messages():    # both restore the defaults afterwards
        warnings.showwarning = lambda message, *_, **__: print(f"{prog}: warning: {first_line(message)}",
                                                               file=sys.stderr)
        try:
            _connect(args.cluster)
            with deferred_exports() if name in ONE_SHOT else contextlib.nullcontext():
                args.func(args)
        except USER_ERRORS as e:
            if args.debug:
                traceback.print_exc()
            print(f"{prog}: error: {describe(e)}", file=sys.stderr)
            return 1
    return 0


def _connect(address):
    """Connect to ``address`` (``--cluster``), else to ``$PAINTER_DASK_SCHEDULER`` if set, and print
    the Dask dashboard's link: every embedding of the command then runs on its workers."""
    if not (address or os.environ.get("PAINTER_DASK_SCHEDULER")):
        return   # one machine, as without the cluster extra
    from .features.cluster import SCHEDULER_ENV, cluster_client
    if address:
        os.environ[SCHEDULER_ENV] = address
    client = cluster_client()
    if client is not None:
        print(f"Dask dashboard: {client.dashboard_link}", file=sys.stderr)


@contextlib.contextmanager
def _library_messages():
    """painter's log records (what the library decided: a base skipped, paintings left out) on
    stdout, as the command's own lines, while a command runs."""
    logger = logging.getLogger("painter")
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(message)s"))
    level, propagate = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate


def run():
    """The ``painter`` program (``python -m painter``): ``main()``, then an immediate exit once
    TensorFlow is loaded: freeing its objects at interpreter shutdown takes 1.3-1.5 s, longer than
    a cached ``predict-pair``, and every file painter writes is closed by then."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")   # before TensorFlow loads: fewer C++ start-up lines
    try:
        code = main()
    except Exception:  # noqa: BLE001 - not a user's mistake (main answers those): a bug, with its traceback
        traceback.print_exc()
        code = BUG
    if "tensorflow" in sys.modules:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code
