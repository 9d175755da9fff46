"""What each ``painter`` command does: one function per command (``painter.cli`` parses the
arguments, calls one, and turns a user's mistake into one line)."""
from __future__ import annotations

import os
import sys

from .errors import InputError, check_out_file

__all__ = ["verdict"]


def _cmd_synth(a):
    from .data.synthetic import make_synthetic_kaggle
    path = make_synthetic_kaggle(a.out, n_artists=a.artists, n_test_only=a.test_only,
                                 paintings_per_artist=a.per_artist, size=a.size, seed=a.seed)
    print(f"synthetic competition written to {path}")


def _cmd_clean(a):
    from .data.cleaning import clean_kaggle, summarize_report
    report = clean_kaggle(a.kaggle_dir, a.out, size=a.size, workers=a.workers, progress=_progress(), detail=a.detail)
    print(summarize_report(report))
    print(f"report: {os.path.join(a.out, 'cleaning_report.csv')}")


def _cmd_train(a):
    from .same_artist.training import train
    # only the hyperparameters given: each method refuses the ones it does not have
    params = {k: getattr(a, k) for k in getattr(a, "hyperparameters", ()) if getattr(a, k) is not None}
    if a.method == "siamese":   # fitted on the paintings: the backbone and crop size are its own
        given = [o for o, v in (("--zoom", a.zoom), ("--views", a.views)) if v]
        if given:
            raise InputError(f"{' and '.join(given)}: the siamese method fits a network on whole paintings; "
                             "views and zoom are for the methods on frozen features")
        if a.weights and "," in a.weights:
            raise InputError(f"--weights {a.weights}: the siamese method fine-tunes one backbone; give one entry "
                             "('imagenet', 'artists' or a weights file)")
        params.update({k: v for k, v in (("backbone", a.backbone), ("image_size", a.image_size),
                                         ("weights", a.weights and _weights_entry(a.weights, several=False)))
                       if v is not None})
    train(a.data_dir, a.out, method=a.method, spec=_spec(a), also=a.also, base=a.base, seed=a.seed,
          val_artists=a.val_artists, progress=_progress(), other_sources=a.other_source, **params)


def _progress() -> bool:
    # progress bars on a terminal only: in a log or a pipe, stderr holds the error line alone
    return sys.stderr.isatty()


def _spec(a):
    from .features import DEFAULT_FEATURES, default_spec
    weights = tuple(_weights_entry(w) for w in a.weights.split(",")) if a.weights else None   # "": the default
    return default_spec(a.backbone or DEFAULT_FEATURES.backbone, a.image_size,
                        weights=weights[0] if weights and len(weights) == 1 else weights,   # one: for all
                        zoom=_zoom(a.zoom) if getattr(a, "zoom", None) else 1,
                        views=_integers("--views", a.views, "scales >= 1") if getattr(a, "views", None) else (),
                        view_pool=getattr(a, "view_pool", "mean"))


def _integers(option: str, text: str, what: str) -> tuple:
    """``2`` or ``2,1`` as a tuple of integers, or a one-line error naming ``option``."""
    try:
        return tuple(int(z) for z in text.split(","))
    except ValueError:
        raise InputError(f"{option} {text}: give {what}, joined by ','") from None


def _zoom(text: str) -> tuple:
    """``--zoom 2`` or ``--zoom 2,1`` (one per joined backbone) as integers."""
    return _integers("--zoom", text, "an integer >= 1 (1: no zoomed views), or one per backbone")


def _weights_entry(text: str, several: bool = True) -> str:
    """One entry of ``--weights``: a name, or a weights file made absolute (the model's config
    keeps it, and is read from other folders). ``several``: the method takes one per backbone."""
    if text in ("artists", "imagenet"):
        return text
    if not os.path.isfile(text):
        raise InputError(f"--weights {text}: not 'artists', 'imagenet' or a weights file"
                         + ("; give one entry per backbone, joined by ','" if several else ""))
    return os.path.abspath(text)


def _cmd_submit(a):
    from .same_artist.submit import submit
    submit(a.model_dir, a.data_dir, a.submission_info, a.out, chunk_size=a.chunk_size, progress=_progress(),
           context=a.context, groups=a.groups)


def _cmd_score(a):
    from .same_artist.submit import score_submission
    for kind, auc in score_submission(a.submission, a.solution).items():
        print(f"ROC AUC {kind:8s} {auc:.4f}")


def _cmd_predict_pair(a):
    from .same_artist.predict import load_pair_model, predict_pair
    model = load_pair_model(a.model)
    print(verdict(predict_pair(a.image_a, a.image_b, model=model, context=a.context), model.threshold))


def _cmd_evaluate(a):
    from .same_artist.evaluate import evaluate
    result = evaluate(a.collection, model=a.model, context=a.context, max_pairs=a.max_pairs, progress=_progress())
    print(f"model {result.model}; threshold {result.threshold:.2f}; context: {result.context or 'none'}")
    print(result.table().to_string(float_format=lambda x: f"{x:.3f}"))
    if a.out:
        print(f"figures, per-artist table: {result.save(a.out)}")


def verdict(p: float, threshold: float) -> str:
    """What a person reads: ``P(same artist) = 0.34; threshold 0.30 -> same artist``."""
    decision = "same artist" if p >= threshold else "different artists"
    return f"P(same artist) = {p:.2f}; threshold {threshold:.2f} -> {decision}"


def _cmd_classify(a):
    from . import classify
    if a.action == "train":
        classify.train_classifier(a.data_dir, a.out, target=a.target, head=a.head, min_examples=a.min_examples,
                                  spec=_spec(a), progress=_progress())
    else:
        for path, rows in classify.predict_files(a.model, a.images, top=a.top).items():
            print(path + "\t" + "\t".join(f"{label} {p:.3f}" for label, p in rows))


def _cmd_index(a):
    from .search import build_index_from_data
    build_index_from_data(a.data_dir, a.out, embedding=a.embedding, index_type=a.index_type, spec=_spec(a),
                          progress=_progress())


def _cmd_similar(a):
    from .search import SimilarityIndex
    if a.png:
        check_out_file(a.png)
    index = SimilarityIndex.load(a.index_dir)
    table = index.query_file(a.image, k=a.k)
    print(table.to_string(index=False))
    if a.png:
        index.plot_neighbours(a.image, table, a.png)
        print(f"grid: {a.png}")


def _cmd_attribute(a):
    from .attribution import attribute, plot_attribution
    if a.png:
        check_out_file(a.png)
    table = attribute(a.image, a.reference, model=a.model, k=a.k, prior_none=a.prior_none, progress=_progress(),
                      context=a.context, index_type=a.index_type)
    shown = table.assign(best_matches=[", ".join(os.path.basename(f) for f in b) for b in table["best_matches"]])
    print(shown.drop(columns=["match_probability"]).to_string(index=False, formatters={"probability": "{:.4f}".format}))
    print(f"answer: {table.attrs['answer']} (P(none) = {table.attrs['p_none']:.3f}; {table.attrs['rule']})")
    # skipped reference paintings: named once, by load_reference's warning
    if a.png:
        print(f"figure: {plot_attribution(table, a.png)}")


def _cmd_explain(a):
    from .explain import explain_pair, plot_explanation
    check_out_file(a.png)
    if a.tiles:
        from .explain_tiles import explain_tiles
        expl = explain_tiles(a.image_a, a.image_b, model=a.model, context=a.context)
    else:
        expl = explain_pair(a.image_a, a.image_b, model=a.model, grid=a.grid)
    print(f"P(same artist) = {expl.probability:.4f}")
    print(f"figure: {plot_explanation(expl, a.png)}")


def _cmd_demo(a):
    from .demo import run_demo
    run_demo(a.out)
