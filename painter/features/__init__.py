"""Frozen-backbone features of paintings: what they are (``spec``), the Keras model that computes
them (``keras_model``), which runner computes them in this process (``runner``), how it runs over
images (``inference``), each image's features computed once and kept (``extract``; on a Dask cluster's
workers: ``cluster``), where they are kept (``store``)."""
from .extract import cached_rows, extract_features
from .inference import image_batches, predict_images, predict_padded
from .keras_model import build_feature_model
from .serving import feature_model
from .spec import DEFAULT_FEATURES, FeatureSpec, default_spec, read_spec, std_columns
from .store import FeatureStore

__all__ = ["FeatureSpec", "DEFAULT_FEATURES", "default_spec", "std_columns", "read_spec", "build_feature_model",
           "feature_model", "image_batches", "predict_padded", "predict_images", "extract_features", "cached_rows",
           "FeatureStore"]
