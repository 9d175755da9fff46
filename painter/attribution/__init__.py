"""Attribution: which reference artist painted a questioned painting, or none of them.

    questioned painting ─ z_q (E,)                    reference paintings ─ Z (N, E), artist codes (N,)
    pair logits  s_i = z_q · z_i + bias               (the same-artist model's calibrated logit)
    per artist   s_A = aggregate of s_i over A's paintings   (``"mean"`` = nearest class mean)
    P(A | one of them) = softmax(s / T)
    P(one of them) = sigmoid(a · max_A s_A + b + c · ln n_artists)
    P(A) = P(one of them) · P(A | one of them),       P(none) = 1 - P(one of them)
    answer = the most probable outcome: "none" when P(none) >= every P(A)

The aggregate, ``T``, ``a``, ``b`` and ``c`` are an :class:`AttributionCalibration` (``calibration``), chosen on
splits of the training paintings only (``benchmarks/recipes/attribution.py``): held-out paintings of reference
artists against paintings of held-out artists, who stand in for unknown painters. The best
artist's score of an unknown painter grows with the number of reference artists (the best of
more draws), so the "none" model reads that number too (``c < 0``): for a model that stays the
same whatever the reference (the packaged one), it is fitted on each split's whole reference and
on smaller references drawn from it (15, 30 and 70 artists), so one calibration serves a user's
30-artist collection and a 175-artist one (below 15 artists the size term extrapolates).
Answering the most probable outcome maximises the balanced answer accuracy when the
probabilities are right and the prior is even (``prior_none=0.5``); it answers "none" more
readily when there are more artists to confuse (lower top-1), as it should.
``P`` assumes even odds that the painter is among the reference artists (``prior_none=0.5``);
pass the odds you believe (measured on pbn_dev's test paintings, 69% by unknown artists). A
calibration fits the kind of model it was chosen for: ``DEFAULT_CALIBRATION`` an lda model
trained on its reference alone (a fixed threshold on P(none), no size term); the packaged model,
which learned from more artists, ships its own ``attribution.json``; ``choose_calibration``
(``benchmarks/recipes/calibration_splits.py``) fits another.

A reference (a folder per artist or a cleaned data folder) is embedded once per model
(``reference``): its ``z`` matrix, artist labels and skipped files are cached under
``$PAINTER_CACHE/references``, keyed by the model's weights and the reference's file list (paths,
sizes, modification times), rebuilt when stale or damaged. Per-artist mean scores come from the
artists' mean ``z`` (exact: the pair logit is linear in ``z_i``), nearest paintings from a FAISS
index (exact, or for a million reference paintings ``index_type="ivfsq"``: compressed, approximate).
``query.attribute`` answers; ``painter.plots.plot_attribution`` draws the answer.
"""
from ..plots import plot_attribution
from .calibration import (AGGREGATES, DEFAULT_CALIBRATION, AttributionCalibration, attribution_metrics,
                          fit_attribution_calibration, group_scores, probabilities, tradeoff)
from .query import NONE, attribute
from .reference import ReferenceSet, load_reference, model_fingerprint

__all__ = ["NONE", "AttributionCalibration", "DEFAULT_CALIBRATION", "ReferenceSet", "load_reference", "attribute",
           "group_scores", "plot_attribution", "fit_attribution_calibration", "AGGREGATES", "probabilities",
           "attribution_metrics", "tradeoff", "model_fingerprint"]
