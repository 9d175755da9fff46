"""Which runner serves a feature spec in this process, and so which store keeps its features.

The one place that decides: ``feature_model(spec)`` serves the runner (an export run by
``painter.runtime``, else the Keras model), once per spec and process; ``serving_runtime(spec)``
tells which runtime that is, or will be, without building or loading a model, and
``store_and_runner`` opens the matching feature store. A Keras runner that stood in for an export
left to the background process (``painter.runtime.deferred_exports``) gives way to the export
as soon as it is finished: a later embedding in the same process runs the export.

``python -m painter.features.serving JOBS`` is the background exporter (``export_jobs``).
"""
from __future__ import annotations

import json
import logging
import sys
import time

from ..runtime import ExportedModel, background
from ..runtime.export import one_line
from ..runtime.runners import (RUNTIMES, chosen_runtime, export_folder, export_ready, exported_or_keras, runs_exports,
                               saved_model_runner)
from .keras_model import build_feature_model
from .store import FeatureStore, missing_rows

__all__ = ["feature_runner", "feature_model", "draw_random", "serving_runtime", "feature_store", "store_and_runner",
           "export_dir", "export_jobs"]

logger = logging.getLogger(__name__)


def export_dir(spec, runtime: str):
    """``<cache>/exports/<spec.key>-<runtime>``: one folder per feature model and runtime."""
    return export_folder(spec.key, runtime)


def _keras_model(spec):
    from ..quiet import import_tensorflow_quietly
    import_tensorflow_quietly()
    return build_feature_model(spec)


def _one_backbone(spec):
    if "+" in spec.backbone:
        raise ValueError(f"feature_runner takes one backbone, got {spec.backbone!r}; use spec.components()")
    return spec.components()[0] if spec.image_size is None else spec


def feature_runner(spec, runtime: str | None = None):
    """The fastest runner of one single-backbone ``FeatureSpec``: ``predict_on_batch``
    ``(b, S, S, 3)`` RGB 0..255 -> ``(b, D)`` float32, and ``output_shape``.

    Returns an ``ExportedModel`` (exported once into ``export_dir(spec, runtime)``), or the
    Keras model for ``runtime="keras"`` or when the runtime cannot be imported or the export
    fails (one warning saying why). A damaged export is reported in one warning naming it,
    deleted and made again. ``runtime`` defaults to ``chosen_runtime()``.
    """
    spec = _one_backbone(spec)
    if getattr(spec, "views", ()):   # a spec's views go through its whole-painting model
        spec = spec.whole()
    runtime = runtime or chosen_runtime()
    return exported_or_keras(export_dir(spec, runtime) if runtime in RUNTIMES else None, lambda: _keras_model(spec),
                             runtime, spec.key, lambda: {"spec": spec.to_dict()}, expected_size=spec.image_size)


# --- the process's runners ------------------------------------------------------------------------

_runners = {}   # (spec, spec.key) -> runner: a dict, so that the store can be named without making one
_RUNNERS_MAX = 8   # runners of exported or Keras models kept; a random draw is always kept (it cannot be remade)


def feature_model(spec):
    """The fastest runner of ``build_feature_model(spec)`` for one backbone (``feature_runner``),
    once per spec and process, and again when its weights file changes (``spec.key`` follows the
    file's content) or when the export a Keras runner stood in for is finished. Random backbones
    (``spec.random_weights``): the process's current draw (``draw_random``), a Keras model never
    exported. A spec with views gets the model of its views, ``spec.whole()``'s."""
    spec = spec.whole()
    key = (spec, spec.key)
    if spec.random_weights:
        return _runners[key] if key in _runners else draw_random(spec)
    if _current(spec) is None:
        _runners[key] = feature_runner(spec)
        kept = [k for k in _runners if not k[0].random_weights]
        for old in kept[:max(len(kept) - _RUNNERS_MAX, 0)]:
            del _runners[old]
    return _runners[key]


feature_model.cache_clear = _runners.clear   # for tests: forget every runner


def draw_random(spec):
    """A new draw of ``spec``'s random backbone (from Keras's global seed), which ``feature_model``
    serves from now on in this process; its features are never cached."""
    spec = spec.whole()
    if not spec.random_weights:
        raise ValueError(f"draw_random: {spec.key} has no random backbone")
    _runners[(spec, spec.key)] = build_feature_model(spec)
    return _runners[(spec, spec.key)]


def _current(spec):
    """The runner made for ``spec`` in this process, or None: none made, or a Keras runner whose
    runtime's export is finished now (made in the background meanwhile), which is then dropped."""
    key = (spec, spec.key)
    runner = _runners.get(key)
    if runner is None or spec.random_weights or isinstance(runner, ExportedModel):
        return runner
    runtime = chosen_runtime()
    if runtime != "keras" and not background.deferring() and export_ready(export_dir(_one_backbone(spec), runtime)):
        del _runners[key]
        return None
    return runner


def runtime_of(runner) -> str:
    """``"keras"`` or the runtime of an ``ExportedModel``."""
    return getattr(runner, "runtime", "keras")


def serving_runtime(spec, runner=None) -> str:
    """The runtime whose store keeps ``spec``'s features: ``runner``'s, or that of the runner made
    for ``spec`` in this process, else the one ``feature_model(spec)`` would have, foreseen
    without building or loading it: the chosen runtime when its export is there or is to be made
    now, else ``"keras"`` (inside ``deferred_exports()``, or a runtime that cannot be imported).
    Unforeseen: an export that fails to be made, or is found damaged while deferring."""
    spec = spec.whole()   # views are the whole-painting model's
    runner = runner if runner is not None else _current(spec)
    if runner is not None:
        return runtime_of(runner)
    runtime = chosen_runtime()
    if not runs_exports(runtime):
        return "keras"
    ready = export_ready(export_dir(_one_backbone(spec), runtime))
    return runtime if ready or not background.deferring() else "keras"


def feature_store(spec, runtime) -> FeatureStore:
    """The store of ``spec``'s features as ``runtime`` computes them."""
    # features of an exported model are kept apart from Keras's: runtimes agree to 4e-4 of the
    # feature scale, but a nearly constant channel's std can differ by 10% between them, and a
    # model should see one runtime's features throughout (benchmarks/recipes/runtime_choice.py)
    return FeatureStore(spec.key if runtime == "keras" else f"{spec.key}-{runtime}")


def store_and_runner(spec, runner, paths, digests):
    """``(store, runner)``: the store of ``spec``'s features as the runner computes them, and the
    runner (``runner``, else ``feature_model(spec)``, made only when the store lacks some of
    ``paths``; ``digests`` as ``cache.content_keys`` gives them)."""
    runtime = serving_runtime(spec, runner)
    store = feature_store(spec, runtime)
    if runner is None and missing_rows(paths, digests, store):
        runner = feature_model(spec)
        if runtime_of(runner) != runtime:   # not the runtime foreseen (its export failed): its own store
            store = feature_store(spec, runtime_of(runner))
    return store, runner


# --- the background exporter ------------------------------------------------------------------------

def export_jobs(jobs):
    """Make each job's export (``{"spec": FeatureSpec dict | "keras_file": path, "runtime": ...}``);
    one already there is only checked. One log line per job (the background log)."""
    from .spec import FeatureSpec
    for job in jobs:
        start = time.time()
        what = f"feature model {job['spec']}" if "spec" in job else f"embedder {job['keras_file']}"
        try:
            runner = (feature_runner(FeatureSpec.from_dict(job["spec"]), job["runtime"]) if "spec" in job
                      else saved_model_runner(job["keras_file"], job["runtime"]))
            done = "exported" if isinstance(runner, ExportedModel) else "not exported (see the warning)"
        except Exception as e:  # noqa: BLE001 - e.g. a model file deleted meanwhile: the other jobs still run
            done = f"failed ({one_line(e)})"
        logger.info(f"{what} for {job['runtime']}: {done} ({time.time() - start:.1f} s)")


if __name__ == "__main__":   # the background exporter (runtime.background.EXPORTER); runs the imported module's code
    logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="%(asctime)s %(message)s",
                        datefmt="%Y-%m-%d %H:%M:%S")
    from painter.features.serving import export_jobs as _export_jobs
    _export_jobs(json.loads(sys.argv[1]))
