"""Shared by the benchmark scripts: the real data's location and a clear stop when it is absent,
the validation score of features, subsets of the training artists and the score on the test pairs."""
import functools
import sys
from pathlib import Path
from types import SimpleNamespace

PBN_DEV = Path(__file__).resolve().parents[2] / "shared" / "data" / "pbn_dev"
RUNS = Path(__file__).resolve().parents[1] / "runs"   # git-ignored outputs, whatever the working folder


def require_pbn_dev():
    if not (PBN_DEV / "all_data_info.csv").is_file():
        sys.exit(f"benchmark needs the real data at {PBN_DEV} (see README: Data)")
    return PBN_DEV


def clean_pbn_dev(out):
    """Clean pbn_dev into ``out`` once (resumable, seconds when already done)."""
    from painter.data.cleaning import clean_kaggle
    clean_kaggle(require_pbn_dev(), out, size=256, progress=False)
    return Path(out)


def validate(F, mask, labels, splits, reweigh=None, **lda):
    """Mean over ``splits`` artist splits of the training paintings of the best profile score's
    seen and unseen validation AUC: ``lda`` on the features ``F`` (``mask``: their std columns;
    ``lda``: more ``lda_projection`` arguments). ``reweigh(E, C, fit, y, n_artists)`` may change
    the embedding and class cosines before the scoring."""
    import numpy as np
    from painter.data.pairs import validation_pairs, validation_split
    from painter.same_artist.lda import choose_scorer, lda_projection
    rows = []
    for seed in range(splits):
        fit, val_seen, val_unseen = validation_split(labels, seed=seed)
        pairs = validation_pairs(labels, val_seen, val_unseen, seed=seed + 1)
        names, y = np.unique(labels[fit], return_inverse=True)
        base = lda_projection(F[fit], y, len(names), log_columns=mask, **lda)
        E, C = base.predict(F, batch_size=4096, verbose=0)
        if reweigh is not None:
            E, C = reweigh(E, C, fit, y, len(names))
        rows.append(max(choose_scorer(E, C, *pairs)[2], key=lambda r: r["mean"]))
    return {k: round(float(np.mean([r[k] for r in rows])), 4) for k in ("seen", "unseen", "mean")}


def default_features_zoomed(zoom):
    """The default features, with ``zoom`` ("2,1": zoomed views per backbone, as ``painter train
    --zoom`` reads it) when given; a bad value stops the script in one line."""
    from painter.commands import _zoom
    from painter.errors import InputError
    from painter.features import DEFAULT_FEATURES, default_spec
    try:
        return default_spec(zoom=_zoom(zoom)) if zoom else DEFAULT_FEATURES
    except (InputError, ValueError) as e:
        sys.exit(str(e))


def default_features_and_splits(sources, seeds):
    """``(paths, labels, F, log_columns, splits)``: the default features of the training paintings of
    ``sources`` (from the feature cache) and, per seed, ``(fit, i, j, same, kind)``: the artist split
    ``painter train`` makes (held-out artists unseen by the backbones first) and its validation pairs."""
    from painter.data.pairs import validation_pairs, validation_split
    from painter.features import DEFAULT_FEATURES, extract_features, std_columns
    from painter.same_artist.training import load_training_images, unseen_first
    paths, labels = load_training_images(sources)
    F, failed = extract_features(paths, DEFAULT_FEATURES)
    if failed:
        sys.exit(f"unreadable training paintings: {failed}")
    prefer = unseen_first(labels, DEFAULT_FEATURES)
    splits = []
    for seed in seeds:
        fit, val_seen, val_unseen = validation_split(labels, seed=seed, prefer=prefer)
        splits.append((fit, *validation_pairs(labels, val_seen, val_unseen, seed=seed + 1)))
    return paths, labels, F, std_columns(DEFAULT_FEATURES), splits


def default_pair_scores(F, mask, labels, split):
    """``(score, T, w)``: the default lda score of a split's validation pairs, ``split = (fit, i, j,
    same, kind)`` as ``default_features_and_splits`` gives it: LDA on the fitting rows of ``F``
    (``mask``: its std columns), ``T`` and ``w`` chosen on the pairs as ``painter train`` does."""
    import numpy as np
    from painter.same_artist.lda import choose_scorer, lda_projection, profile_score
    fit, i, j, same, kind = split
    names, y = np.unique(labels[fit], return_inverse=True)
    E, C = lda_projection(F[fit], y, len(names), log_columns=mask).predict(F, batch_size=4096, verbose=0)
    T, w, _ = choose_scorer(E, C, i, j, same, kind)
    return profile_score(E, C, i, j, T, w), T, w


def seen_unseen_auc(score, same, kind) -> dict:
    """ROC AUC of ``score`` on the seen-artist and on the unseen-artist validation pairs."""
    from sklearn.metrics import roc_auc_score
    return {k: roc_auc_score(same[kind == k], score[kind == k]) for k in ("seen", "unseen")}


def artist_subset(data, n, root, seed=0):
    """``(folder, chosen, left_out)``: ``n`` of cleaned ``data``'s training artists drawn at random
    (``seed``), as a folder-per-artist tree of symlinks to their paintings in ``root`` (links made
    once); ``data`` itself when ``n`` takes every artist."""
    import numpy as np
    from painter.same_artist.training import load_training_images
    paths, labels = load_training_images(data)
    artists = np.unique(labels)
    if n >= len(artists):
        return Path(data), set(artists), set()
    chosen = set(np.random.default_rng(seed).choice(artists, n, replace=False))
    for path, artist in zip(paths, labels):
        if artist in chosen:
            link = Path(root) / artist.replace("/", "_") / Path(path).name   # a "/" in a name would nest folders
            if not link.exists():
                link.parent.mkdir(parents=True, exist_ok=True)
                link.symlink_to(Path(path).resolve())   # absolute: a relative --data would break the links
    return Path(root), chosen, set(artists) - chosen


@functools.cache
def solution():
    """pbn_dev's answers (``sameArtist``, ``pairKind``), row for row with its ``submission_info.csv``."""
    import pandas as pd
    return pd.read_csv(require_pbn_dev() / "solution_painter.csv")


def pair_artists(data):
    """``(a1, a2)``: the artists of each test pair's two paintings, from cleaned pbn_dev ``data``."""
    import pandas as pd
    info = pd.read_csv(Path(data) / "all_data_info.csv")
    artist_of = dict(zip(info.new_filename, info.artist))
    pairs = pd.read_csv(Path(data) / "submission_info.csv")
    return pairs.image1.map(artist_of).to_numpy(), pairs.image2.map(artist_of).to_numpy()


def submit_and_score(model_dir, data, threshold, keep=None, context=True, out=None, groups=True):
    """Submit ``model_dir`` on cleaned pbn_dev ``data``'s test pairs (``model_dir/submission.csv``;
    ``context``: adapted to the test images, with their ``groups``, as ``painter submit`` is by
    default) and score it
    against the solution: ``(pair_metrics of the pairs keep (a mask; default all), every pair's score)``;
    ``out``: the submission's path instead (a packaged model's folder is not written into)."""
    import pandas as pd
    from painter.metrics import pair_metrics
    from painter.same_artist.submit import submit
    model_dir, data = Path(model_dir), Path(data)
    out = Path(out) if out else model_dir / "submission.csv"
    submit(model_dir, data, data / "submission_info.csv", out, progress=False, context=context, groups=groups)
    scores = pd.read_csv(out).sameArtist.to_numpy()
    same, kind = solution().sameArtist.to_numpy(), solution().pairKind.to_numpy()
    keep = slice(None) if keep is None else keep
    return pair_metrics(same[keep], scores[keep], kind[keep], threshold=threshold), scores


SOURCES = PBN_DEV.parent   # ../shared/data: pbn_dev, wikiart_extra, public_art, best_artworks_fullsize


def known_artists():
    """Names (lower case, ``_`` as space) of the WikiArt artists: every pbn_dev artist (the training
    ones, which the shipped learned parts saw, and the test-only ones, which must stay unseen) and
    ``wikiart_extra``'s; ``split_source`` keeps them out of other sources' splits."""
    import pandas as pd
    from painter.same_artist.evaluate import _name
    info = pd.read_csv(PBN_DEV / "all_data_info.csv")
    extra = pd.read_csv(SOURCES / "wikiart_extra" / "labels.csv")
    return {_name(a) for a in [*info.artist, *extra.artist]}


def split_source(name, root=RUNS / "sources", test_artists=0.4, test_paintings=0.2, seed=0, exclude=()):
    """A folder-per-artist source split as a user's collection is: ``(train, test)`` folders of
    symlinks in ``root/name/``. ``test_artists`` of the artists (drawn among those not in
    ``exclude``, names as ``known_artists`` gives them) are test-only; of the others' paintings,
    ``test_paintings`` go to test (each artist keeps one painting in train at least). Artists in
    ``exclude`` stay out of both. Made once; the same draw every time."""
    import numpy as np
    from painter.same_artist.evaluate import _name
    from painter.same_artist.training import load_training_images
    out = Path(root) / name
    if (out / "done").is_file():
        return out / "train", out / "test"
    paths, labels = load_training_images(SOURCES / name)
    artists = sorted(a for a in set(labels) if _name(a) not in set(exclude))
    rng = np.random.default_rng(seed)
    held = set(rng.choice(artists, int(round(test_artists * len(artists))), replace=False))
    for artist in artists:
        mine = [p for p, a in zip(paths, labels) if a == artist]
        n_test = len(mine) if artist in held else min(int(round(test_paintings * len(mine))), len(mine) - 1)
        test = set(rng.choice(mine, n_test, replace=False)) if n_test else set()
        for p in mine:
            link = out / ("test" if p in test else "train") / artist / Path(p).name
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(Path(p).resolve())
    (out / "done").write_text(f"test_artists={test_artists} test_paintings={test_paintings} seed={seed}\n")
    return out / "train", out / "test"


def pbn_dev_arguments(section, **counts):
    """The parsed options of a suite script that reads pbn_dev: ``--data`` (cleaned there first),
    ``--write`` (its RESULTS.md section ``section``) and an int option per ``counts`` item
    (``n=512`` gives ``--n``, default 512)."""
    import argparse
    p = argparse.ArgumentParser()
    for name, default in counts.items():
        p.add_argument(f"--{name}", type=int, default=default)
    p.add_argument("--data", default=str(RUNS / "pbn_clean"))
    p.add_argument("--write", action="store_true", help=f"write the table into RESULTS.md (its '{section}' section)")
    return p.parse_args()


def write_results(name, text, command=None):
    """Put ``text`` (Markdown) and the ``command`` that made it (default: this script's, as run from
    the repository root) in ``RESULTS.md`` between the markers ``<!-- begin NAME -->`` and
    ``<!-- end NAME -->``, which a suite script owns."""
    command = command or " ".join(["python", f"benchmarks/{Path(sys.argv[0]).name}", *sys.argv[1:]])
    results = Path(__file__).resolve().parent / "RESULTS.md"
    doc = results.read_text()
    begin, end = f"<!-- begin {name} -->", f"<!-- end {name} -->"
    if begin not in doc or end not in doc:
        sys.exit(f"{results}: no '{begin}' ... '{end}' markers to write between")
    head, rest = doc.split(begin, 1)
    results.write_text(f"{head}{begin}\n`{command}`\n\n{text.strip()}\n{end}{rest.split(end, 1)[1]}")
    print(f"written to {results} ({name})")


def best_artworks_painters():
    """``(folder, painters, validation)``: ``best_artworks_fullsize``, its 9 painters, and the fixed
    draw of 4 that choices for paintings at their own resolution are made on."""
    import numpy as np
    folder = SOURCES / "best_artworks_fullsize"
    painters = sorted(d.name for d in folder.iterdir() if d.is_dir())
    return folder, painters, sorted(np.random.RandomState(0).choice(painters, 4, replace=False))


def best_artworks_validation_paintings():
    """``(paths, labels (n,))``: every painting of ``best_artworks_painters``' validation group of 4."""
    import numpy as np
    best, _, validation = best_artworks_painters()
    paths, labels = zip(*[(str(f), name) for name in validation for f in sorted((best / name).iterdir())])
    return list(paths), np.array(labels)


def two_source_features(seeds):
    """``(paths, labels, F, log_columns, splits, pa_paths, pa_labels, P)``:
    ``default_features_and_splits`` of pbn_dev + ``wikiart_extra`` with ``seeds``, and the default
    features ``P`` of public_art's training part (``split_source``)."""
    from painter.features import DEFAULT_FEATURES, extract_features
    from painter.same_artist.training import load_training_images
    paths, labels, F, mask, splits = default_features_and_splits(
        [clean_pbn_dev(RUNS / "pbn_clean"), SOURCES / "wikiart_extra"], seeds)
    pa_paths, pa_labels = load_training_images(split_source("public_art", exclude=known_artists())[0])
    P, _ = extract_features(pa_paths, DEFAULT_FEATURES, progress=False)
    return paths, labels, F, mask, splits, pa_paths, pa_labels, P


def two_source_runs(seeds):
    """Per seed, ``(seed, c, m, data)``: the validation collections (``two_source_collections``),
    ``lda`` fitted beside them (``two_source_fit``), and ``data``, the arrays of
    ``two_source_features`` (``labels``, ``F``, ``mask``, ``pa_labels``, ``P``)."""
    _, labels, F, mask, splits, _, pa_labels, P = two_source_features(seeds)
    data = SimpleNamespace(labels=labels, F=F, mask=mask, pa_labels=pa_labels, P=P)
    for seed, split in zip(seeds, splits):
        c = two_source_collections(labels, split, pa_labels, seed)
        yield seed, c, two_source_fit(c, F, P, labels, pa_labels, mask), data


def _embed_shifted(base, X_pre, effect, coral=None, C_train=None, means=None):
    """``(E, C)`` of projected rows ``X_pre``, the collection's shrunk mean taken off first.
    ``coral`` (in [0, 1]): the collection's covariance also mapped to the training rows'
    ``C_train`` (CORAL), its own covariance shrunk towards ``C_train`` by ``1 - coral``.
    ``means`` ``(d, n)``: the artists' unit means C is taken against (default: ``base``'s)."""
    import numpy as np
    from scipy.linalg import sqrtm
    from painter.same_artist.context import shrunk_mean
    if coral:
        centre = X_pre.mean(0)
        C = (1 - coral) * C_train + coral * np.cov(X_pre, rowvar=False)
        A = np.real(sqrtm(np.linalg.inv(C)) @ sqrtm(C_train))
        X_pre = (X_pre - centre) @ A + centre
    if effect:
        mean, shrink = shrunk_mean(X_pre, effect)
        X_pre = X_pre - shrink * mean
    E = X_pre / np.linalg.norm(X_pre, axis=1, keepdims=True)
    return E, E @ (base.get_layer("class_cosine").get_weights()[0] if means is None else means)


def two_source_collections(labels, split, pa_labels, seed, candidates=None, seen_share=0.25):
    """The fitting rows and validation collections of one split (``default_features_and_splits``),
    with public_art's training part (``two_source_features``) beside WikiArt's.

    A fifth of public_art's artists (drawn with ``seed`` among ``candidates``, default all) are held
    out whole; with ``seen_share``, that share of the paintings of the other museum artists with
    three paintings or more too, so that public_art also has "seen" pairs (two museum artists the
    fit learned). Returns a namespace: ``fit`` (WikiArt rows), ``pa_fit`` / ``pa_val`` (bool,
    public_art rows), ``rows_w`` (WikiArt rows of the validation collection) with its pairs
    ``iw``, ``jw``, ``same``, ``kind``; public_art's pairs ``ip``, ``jp`` (indexing ``pa_val``'s
    rows), ``pa_same``, ``pa_kind``.
    """
    import numpy as np
    import pandas as pd
    fit, i, j, same, kind = split
    artists = np.unique(pa_labels)
    pool = artists if candidates is None else np.intersect1d(artists, list(candidates))
    held = set(np.random.default_rng(seed).choice(pool, min(len(artists) // 5, len(pool)), replace=False))
    whole = np.isin(pa_labels, list(held))
    counts = pd.Series(pa_labels).value_counts()
    part = (~whole & np.isin(pa_labels, counts.index[counts >= 3])
            & (np.random.default_rng(seed + 10).random(len(pa_labels)) < seen_share))
    pa_val = whole | part
    rows_w = np.unique(np.concatenate([i, j]))
    at = np.full(len(labels), -1)
    at[rows_w] = np.arange(len(rows_w))
    lp, new = pa_labels[pa_val], whole[pa_val]
    ip, jp = np.triu_indices(len(lp), 1)
    return SimpleNamespace(fit=fit, pa_fit=~pa_val, pa_val=pa_val, rows_w=rows_w, iw=at[i], jw=at[j], same=same,
                           kind=kind, ip=ip, jp=jp, pa_same=lp[ip] == lp[jp],
                           pa_kind=np.where(new[ip] | new[jp], "unseen", "seen"))


def two_source_fit(c, F, P, labels, pa_labels, mask, extra=()):
    """``lda`` fitted on the fitting rows of ``F`` (WikiArt) and ``P`` (public_art) of collections
    ``c`` (``two_source_collections``), and the collections through it. ``extra``: ``(A, B)`` pairs
    of feature arrays shaped as ``F`` and ``P`` (other copies of the same paintings), added to the
    fit as more samples of their artists.

    Returns a namespace of ``base`` (``lda_projection``'s model), ``project`` (features -> its
    projection), ``names``, ``museum`` (bool per artist: learned from public_art only), ``size``
    (paintings per artist), ``Xw``, ``Xp`` (the projected collections) and ``T``, ``w`` (chosen on
    WikiArt's pairs without context, as ``painter train`` chooses them).
    """
    import keras
    import numpy as np
    from painter.same_artist.context import PROJECTION
    from painter.same_artist.lda import choose_scorer, lda_projection
    fit_labels = np.concatenate([labels[c.fit], pa_labels[c.pa_fit]])
    names, y = np.unique(np.concatenate([fit_labels] * (1 + len(extra))), return_inverse=True)
    X = np.vstack([F[c.fit], P[c.pa_fit]] + [part for A, B in extra for part in (A[c.fit], B[c.pa_fit])])
    base = lda_projection(X, y, len(names), log_columns=mask, overwrite=True)
    project = keras.Model(base.input, base.get_layer(PROJECTION).output)
    Xw = project.predict(F[c.rows_w], batch_size=1024, verbose=0)
    Xp = project.predict(P[c.pa_val], batch_size=1024, verbose=0)
    T, w, _ = choose_scorer(*_embed_shifted(base, Xw, 0), c.iw, c.jw, c.same, c.kind)
    return SimpleNamespace(base=base, project=project, names=names, museum=~np.isin(names, labels[c.fit]),
                           size=np.bincount(y[:len(fit_labels)]).astype(float), Xw=Xw, Xp=Xp, T=T, w=w)


def two_source_validation(F, mask, labels, split, P, pa_labels, seed, effects, extra=(), corals=(None,)):
    """One row per design effect in ``effects``: ``lda`` fitted on WikiArt's fitting paintings of
    ``split`` (``default_features_and_splits``) and public_art's training part ``P`` less 20% of its
    artists (drawn with ``seed``), scored on WikiArt's validation pairs (seen / unseen) and every
    pair of public_art's held-out artists, each collection its own context. T, w, the calibration
    and the threshold are chosen on the WikiArt pairs without context, as ``painter train`` does.
    ``extra``: more copies of the paintings in the fit (``two_source_fit``). ``corals``: the
    collection's covariance mapped to the fitting rows' too, at these strengths (``_embed_shifted``)."""
    import numpy as np
    from sklearn.metrics import roc_auc_score
    from painter.metrics import balanced_accuracy
    from painter.same_artist.calibration import choose_threshold, fit_calibration
    from painter.same_artist.context import shrunk_mean
    from painter.same_artist.lda import profile_score
    c = two_source_collections(labels, split, pa_labels, seed, seen_share=0.0)
    m = two_source_fit(c, F, P, labels, pa_labels, mask, extra)
    base, Xw, Xp, T, w = m.base, m.Xw, m.Xp, m.T, m.w
    iw, jw, same, kind, ip, jp = c.iw, c.jw, c.same, c.kind, c.ip, c.jp
    s0 = profile_score(*_embed_shifted(base, Xw, 0), iw, jw, T, w)
    scale, _, bias = fit_calibration(s0, np.zeros_like(s0), same)
    threshold = choose_threshold(same, 1 / (1 + np.exp(-(scale * s0 + bias))), kind)
    C_train = np.cov(m.project.predict(np.vstack([F[c.fit], P[c.pa_fit]]), batch_size=1024, verbose=0),
                     rowvar=False) if any(corals) else None   # only CORAL needs the fitting rows' spread
    rows = []
    for effect, coral in ((e, k) for e in effects for k in corals):
        s = profile_score(*_embed_shifted(base, Xw, effect, coral, C_train), iw, jw, T, w)
        sp = profile_score(*_embed_shifted(base, Xp, effect, coral, C_train), ip, jp, T, w)
        pw, pp = (1 / (1 + np.exp(-(scale * x + bias))) for x in (s, sp))
        rows.append({"design_effect": effect, "coral": coral or 0.0,
                     **{f"wikiart {k}": v for k, v in seen_unseen_auc(s, same, kind).items()},
                     **{f"wikiart {k} acc": balanced_accuracy(same[kind == k], pw[kind == k], threshold)
                        for k in ("seen", "unseen")},
                     "public_art": roc_auc_score(c.pa_same, sp),
                     "public_art acc": balanced_accuracy(c.pa_same, pp, threshold),
                     "shrink wikiart": shrunk_mean(Xw, effect)[1] if effect else 0.0,
                     "shrink public_art": shrunk_mean(Xp, effect)[1] if effect else 0.0})
    return rows


def museum_shares(fit, c, data):
    """P(museum | x) of WikiArt's and public_art's validation rows (``fit.Xw``, ``fit.Xp``) of one
    ``two_source_runs`` split, by ``source_shift``'s classifier fitted on its fitting rows."""
    import numpy as np
    from painter.same_artist.source_shift import fit_source_shift
    Xf = [fit.project.predict(X, batch_size=1024, verbose=0) for X in (data.F[c.fit], data.P[c.pa_fit])]
    W, b, _ = fit_source_shift(np.vstack(Xf), np.r_[np.zeros(len(Xf[0]), int), np.ones(len(Xf[1]), int)], 1.0)
    return [1 / (1 + np.exp(-(X @ W[:, 1] + b[1]))) for X in (fit.Xw, fit.Xp)]


def two_source_aucs(c, s_w, s_p) -> dict:
    """ROC AUC of the pair scores of collections ``c`` (``two_source_collections``): WikiArt's
    ``s_w`` and public_art's ``s_p``, seen and unseen apart."""
    out = {f"wikiart {k}": v for k, v in seen_unseen_auc(s_w, c.same, c.kind).items()}
    return out | {f"public_art {k}": v for k, v in seen_unseen_auc(s_p, c.pa_same, c.pa_kind).items()}


def two_source_table(rows, by):
    """The mean over splits of ``rows`` (dicts of ``two_source_aucs`` and the keys ``by``), with
    the mean of the four AUCs."""
    import pandas as pd
    table = pd.DataFrame(rows).groupby(by, sort=False).mean(numeric_only=True)
    table = table[[c for c in table.columns if c.startswith(("wikiart", "public_art"))]]
    table["mean"] = table.mean(axis=1)
    return table
