"""The Keras networks of the same-artist methods: the seed project's Siamese network, its pair
head, and the metric-learning variants.

    image A ──┐                     ┌── |A − B| ── GlobalMaxPooling2D ── Dropout ── Dense(1, sigmoid)
              ├─ shared backbone ───┤
    image B ──┘                     └── (one set of weights for both)

``build_siamese`` builds that model end to end on images (for fine-tuning where a GPU is
lent). ``build_pair_head`` is the same head on its own: the CPU path trains it on encodings
cached once per image, and ``build_siamese`` accepts a trained head so both paths give the
same network. Contrastive and triplet losses train a shared embedding instead of the head.
"""
from __future__ import annotations

import keras
from keras import layers, ops

from ..backbones import DEFAULT_BACKBONE, get_backbone
from ..layers import AbsDiff, CosineMargin

__all__ = ["build_pair_head", "build_siamese", "build_embedding_net", "contrastive_loss", "triplet_loss",
           "ContrastiveModel", "TripletModel", "CosFaceModel", "compile_pair_model"]


def build_pair_head(encoding_shape, dropout: float = 0.3, name: str = "pair_head") -> keras.Model:
    """The seed's head: ``(encoding A, encoding B) -> P(same artist)``.

    ``encoding_shape`` is ``(h, w, C)`` for feature maps (|A−B| then GlobalMaxPooling2D) or
    ``(D,)`` for pooled vectors (|A−B| directly). Output ``(batch, 1)`` in [0, 1].
    """
    a = keras.Input(shape=tuple(encoding_shape), name="encoding_a")
    b = keras.Input(shape=tuple(encoding_shape), name="encoding_b")
    x = AbsDiff(name="abs_diff")([a, b])
    if len(encoding_shape) == 3:
        x = layers.GlobalMaxPooling2D(name="max_pool")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    out = layers.Dense(1, activation="sigmoid", name="same_artist")(x)
    return keras.Model([a, b], out, name=name)


def compile_pair_model(model, learning_rate: float = 1e-3):
    """Binary cross-entropy, Adam, accuracy and ROC AUC (named ``auc`` for early stopping)."""
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="binary_crossentropy",
                  metrics=["accuracy", keras.metrics.AUC(name="auc")])
    return model


def build_siamese(backbone=DEFAULT_BACKBONE, head=None, image_size: int = 224, weights="imagenet",
                  dropout: float = 0.3, trainable: bool = False, learning_rate: float = 1e-3) -> keras.Model:
    """The seed project's Siamese network on images, compiled.

    Parameters
    ----------
    backbone : str or keras.Model
        Backbone name (see ``painter.backbones``) or a model mapping images to feature maps.
    head : keras.Model, optional
        A trained ``build_pair_head`` for this backbone's encodings; default a new one.
    trainable : bool
        Fine-tune the backbone too (GPU); False trains the head only.

    Returns
    -------
    keras.Model with inputs ``image_a``, ``image_b`` ``(batch, S, S, 3)`` RGB 0..255 and output
    ``(batch, 1)`` P(same artist). Build it inside ``strategy.scope()`` to train on several GPUs.
    """
    if isinstance(backbone, str):
        backbone = get_backbone(backbone, weights, (image_size, image_size, 3), trainable=trainable)
    else:
        backbone.trainable = trainable
    a = keras.Input((image_size, image_size, 3), name="image_a")
    b = keras.Input((image_size, image_size, 3), name="image_b")
    enc_a, enc_b = backbone(a), backbone(b)
    head = head or build_pair_head(tuple(enc_a.shape[1:]), dropout=dropout)
    model = keras.Model([a, b], head([enc_a, enc_b]), name="siamese")
    return compile_pair_model(model, learning_rate)


# --- metric learning on encodings -----------------------------------------------------------

def build_embedding_net(input_dim: int, dim: int = 128, hidden: int = 512, dropout: float = 0.2,
                        name: str = "embedding") -> keras.Model:
    """Encoding ``(batch, input_dim)`` -> unit-length embedding ``(batch, dim)``."""
    x_in = keras.Input((input_dim,), name="encoding")
    x = layers.Dropout(dropout)(x_in)
    x = layers.Dense(hidden, activation="relu")(x)
    x = layers.Dense(dim)(x)
    return keras.Model(x_in, layers.UnitNormalization(name="l2")(x), name=name)


def contrastive_loss(y_true, distance, margin: float = 1.0):
    """Hadsell et al.: same pairs pulled together, different pairs pushed beyond ``margin``."""
    y = ops.cast(ops.reshape(y_true, (-1,)), distance.dtype)
    d = ops.reshape(distance, (-1,))
    return ops.mean(y * ops.square(d) + (1.0 - y) * ops.square(ops.maximum(margin - d, 0.0)))


def triplet_loss(d_pos, d_neg, margin: float = 0.3):
    """``max(0, d(anchor, positive) - d(anchor, negative) + margin)``, averaged."""
    return ops.mean(ops.maximum(d_pos - d_neg + margin, 0.0))


def _distance(a, b):
    return ops.sqrt(ops.maximum(ops.sum(ops.square(a - b), axis=-1), 1e-12))


class ContrastiveModel(keras.Model):
    """Trains ``embedding`` on ``((A, B), same)`` batches with the contrastive loss."""

    def __init__(self, embedding, margin=1.0, **kwargs):
        super().__init__(**kwargs)
        self.embedding, self.margin = embedding, margin

    def call(self, inputs, training=False):
        a, b = inputs
        return _distance(self.embedding(a, training=training), self.embedding(b, training=training))

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        return contrastive_loss(y, y_pred, self.margin)


class TripletModel(keras.Model):
    """Trains ``embedding`` on ``(anchor, positive, negative)`` batches with the triplet loss."""

    def __init__(self, embedding, margin=0.3, **kwargs):
        super().__init__(**kwargs)
        self.embedding, self.margin = embedding, margin

    def call(self, inputs, training=False):
        a, p, n = (self.embedding(t, training=training) for t in inputs)
        return ops.stack([_distance(a, p), _distance(a, n)], axis=-1)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        return triplet_loss(y_pred[:, 0], y_pred[:, 1], self.margin)


class CosFaceModel(keras.Model):
    """Trains ``embedding`` on ``((painting,), artist)`` batches as a cosine classifier over the
    fitting artists with an additive margin (CosFace): each artist a learned direction, its
    paintings pulled towards it. Proxy losses like it see every artist at every step, where a
    pair sees two."""

    def __init__(self, embedding, n_artists, scale=30.0, margin=0.2, **kwargs):
        super().__init__(**kwargs)
        self.embedding = embedding
        # float32 even under mixed precision: logits near the scale (30) need finer steps than float16's
        self.classifier = CosineMargin(n_artists, scale, margin, name="artist_logits", dtype="float32")
        self.classifier.build(embedding.output.shape)   # built now, so a resumed fit restores it

    def call(self, inputs, training=False):
        return self.embedding(inputs[0], training=training)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        onehot = ops.one_hot(ops.cast(ops.reshape(y, (-1,)), "int32"), self.classifier.n_classes)
        logits = self.classifier(ops.cast(y_pred, "float32"), onehot)
        return ops.mean(keras.losses.categorical_crossentropy(onehot, logits, from_logits=True))
