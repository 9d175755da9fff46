"""Same artist or not: the methods (one file each, scikit-learn-style estimators), the saved
``PairModel``, its calibration, training, prediction and Kaggle-scale submission.

    training.train  -> method.make_method(name).fit(...)  -> model.PairModel.save(dir)
    predict.predict_pair / submit.submit  <- model.PairModel.load(dir)

Methods: ``lda`` (default), ``cosface``, ``bce`` (the seed project's head), ``contrastive``, ``triplet``, ``siamese``
(the seed project's network fitted end to end on the paintings). Names are imported on first use: using a
saved model never imports the training code (nor, when its exports are cached, TensorFlow).
"""
import importlib

_HOMES = {"PairModel": "model", "ModelFolderError": "model", "SameArtistMethod": "method", "make_method": "method",
          "method_class": "method", "method_names": "method", "load_pair_model": "predict", "predict_pair": "predict",
          "predict_pairs": "predict", "default_model_dir": "predict", "PACKAGED_MODEL": "predict",
          "train": "training", "submit": "submit", "score_submission": "submit"}
__all__ = list(_HOMES)


def __getattr__(name):
    if name in _HOMES:
        return getattr(importlib.import_module(f".{_HOMES[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
