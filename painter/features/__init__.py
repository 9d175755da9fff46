"""Frozen-backbone features of paintings: what they are (``spec``), how they are computed
(``extract``; on a Dask cluster's workers: ``cluster``), where they are kept (``store``)."""
from .extract import (build_feature_model, cached_rows, content_keys, extract_features, feature_model, image_batches,
                      predict_images, predict_padded)
from .spec import DEFAULT_FEATURES, FeatureSpec, default_spec, read_spec, std_columns
from .store import FeatureStore

__all__ = ["FeatureSpec", "DEFAULT_FEATURES", "default_spec", "std_columns", "read_spec", "build_feature_model", "feature_model",
           "image_batches", "predict_padded", "predict_images", "extract_features", "content_keys", "cached_rows",
           "FeatureStore"]
