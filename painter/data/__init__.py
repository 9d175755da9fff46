"""From the Kaggle archives to labelled paintings and pairs.

``images`` (decode any painting), ``kaggle`` (the one reader of Kaggle's CSVs), ``cleaning``
(archives -> clean JPEGs), ``labels`` (the seed project's label dicts, collections), ``pairs`` (pairs
for training and validation), ``synthetic`` (a fake competition for tests and the demo).
"""
from .images import ImageError, is_image_name, load_array, load_image
from .labels import (LabelDict, flatten, read_collection, read_training_images, readdatainfo, readfolders,
                     reducedictrandom, splitdict)
from .pairs import ValidationPairs, datagenerator, make_pairs, validation_pairs, validation_split

__all__ = ["ImageError", "is_image_name", "load_array", "load_image", "LabelDict", "flatten", "read_collection",
           "read_training_images", "readdatainfo", "readfolders", "reducedictrandom", "splitdict",
           "ValidationPairs", "datagenerator", "make_pairs", "validation_pairs", "validation_split"]
