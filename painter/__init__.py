"""painter: tell whether two paintings were painted by the same artist.

The path of a painting, folder by folder: ``data`` (archives -> clean labelled paintings and
pairs), ``backbones`` (pretrained CNNs), ``features`` (frozen style statistics, cached),
``same_artist`` (methods -> a saved ``PairModel`` -> P(same artist)); beside them ``classify``
(artist / style / genre), ``search`` (similar paintings), ``metrics`` and ``plots``.

Light to import: TensorFlow is only loaded by the functions that need it.

"The seed project" (and its sibling seed notebooks) in docstrings: the Kaggle notebooks painter
grew from. Their Siamese network, an |A−B| head trained with binary cross-entropy, is the ``bce``
method and the start of ``siamese``; their label-dict helpers live on in ``painter.data``; their
contrastive and triplet losses and CNN+RNN classifier are methods and a head here.
"""
from .data import (ImageError, datagenerator, flatten, load_array, load_image, make_pairs, readdatainfo,
                   readfolders, reducedictrandom, splitdict)
from .version import __version__  # noqa: F401 - painter.__version__

__all__ = [
    "readdatainfo", "readfolders", "reducedictrandom", "splitdict", "datagenerator", "make_pairs", "flatten",
    "load_image", "load_array", "ImageError", "predict_pair", "predict_pairs", "train", "evaluate", "attribute",
    "explain_pair", "explain_tiles",
]


def predict_pair(path_a, path_b, model=None, context=None):
    """Probability in [0, 1] that one artist painted both images; ``context``: paintings of the
    collection they come from (see ``painter.same_artist.predict``)."""
    from .same_artist.predict import predict_pair as _predict_pair
    return _predict_pair(path_a, path_b, model=model, context=context)


def predict_pairs(pairs, model=None, **kwargs):
    """Probabilities for many ``(path_a, path_b)`` pairs; ``context=`` as for ``predict_pair``
    (see ``painter.same_artist.predict``)."""
    from .same_artist.predict import predict_pairs as _predict_pairs
    return _predict_pairs(pairs, model=model, **kwargs)


def train(data_dir, out_dir, method="lda", **kwargs):
    """Train a same-artist model and save it (see ``painter.same_artist.training.train``)."""
    from .same_artist.training import train as _train
    return _train(data_dir, out_dir, method=method, **kwargs)


def evaluate(collection, model=None, context=None, **kwargs):
    """How a same-artist model does on a labelled collection (a folder per artist): ROC AUC, the
    verdict's rates, per artist (see ``painter.same_artist.evaluate``)."""
    from .same_artist.evaluate import evaluate as _evaluate
    return _evaluate(collection, model=model, context=context, **kwargs)


def attribute(image, reference, model=None, k=5, **kwargs):
    """Which reference artist painted ``image``, or none of them: a ranked table with calibrated
    probabilities and the nearest reference paintings (see ``painter.attribution``)."""
    from .attribution import attribute as _attribute
    return _attribute(image, reference, model=model, k=k, **kwargs)


def explain_pair(path_a, path_b, model=None, **kwargs):
    """Occlusion maps of the regions that make two paintings look like one artist's work
    (see ``painter.explain``)."""
    from .explain import explain_pair as _explain_pair
    return _explain_pair(path_a, path_b, model=model, **kwargs)


def explain_tiles(path_a, path_b, model=None, context=None, **kwargs):
    """Maps of how much each tile of two paintings at their own resolution adds to their score
    (see ``painter.explain_tiles``)."""
    from .explain_tiles import explain_tiles as _explain_tiles
    return _explain_tiles(path_a, path_b, model=model, context=context, **kwargs)
