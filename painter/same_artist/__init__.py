"""Same artist or not: the methods (one file each, scikit-learn-style estimators), the saved
``PairModel``, its calibration, training, prediction and Kaggle-scale submission.

    training.train  -> method.make_method(name).fit(...)  -> model.PairModel.save(dir)
    predict.predict_pair / submit.submit  <- model.PairModel.load(dir)

Methods: ``lda`` (default), ``cosface``, ``bce`` (seed 001's head), ``contrastive``, ``triplet``, ``siamese``
(seed 001's network fitted end to end on the paintings).
"""
from .method import SameArtistMethod, make_method, method_class, method_names
from .model import ModelFolderError, PairModel
from .predict import PACKAGED_MODEL, default_model_dir, load_pair_model, predict_pair, predict_pairs

__all__ = ["PairModel", "ModelFolderError", "SameArtistMethod", "make_method", "method_class", "method_names",
           "load_pair_model", "predict_pair", "predict_pairs", "default_model_dir", "PACKAGED_MODEL",
           "train", "submit", "score_submission"]


def train(*args, **kwargs):
    """See ``painter.same_artist.training.train``."""
    from .training import train as _train
    return _train(*args, **kwargs)


def submit(*args, **kwargs):
    """See ``painter.same_artist.submit.submit``."""
    from .submit import submit as _submit
    return _submit(*args, **kwargs)


def score_submission(*args, **kwargs):
    """See ``painter.same_artist.submit.score_submission``."""
    from .submit import score_submission as _score
    return _score(*args, **kwargs)
