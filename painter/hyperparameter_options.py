"""``painter train``'s method options, read from the estimators' signatures: every
hyperparameter of every method is an option, so that ``--epochs`` means what a user expects for
each method that has it (and is refused by one that has none)."""
from __future__ import annotations

import ast
import inspect

__all__ = ["add_hyperparameters"]

# train's own options, not the methods' hyperparameters (siamese's backbone, image size and
# weights are the feature options'); seed and backup folder are train's, callbacks Python's
_NOT_HYPERPARAMETERS = {"self", "seed", "backup_dir", "callbacks", "backbone", "image_size", "weights"}


def add_hyperparameters(parser) -> tuple:
    """An option per hyperparameter of every method, from the estimators' signatures: its type
    from the default (a flag for booleans, a comma-separated list for tuples, a literal for None),
    its help naming the methods that have it and their defaults. Returns the names added."""
    from .same_artist.method import method_class, method_names
    found = {}
    for method in method_names():
        for p in inspect.signature(method_class(method)).parameters.values():
            if p.name not in _NOT_HYPERPARAMETERS:
                found.setdefault(p.name, []).append((method, p.default))
    for name, uses in found.items():
        default = next((d for _, d in uses if d is not None), None)
        where = ", ".join(f"{m} {_shown(d)}" for m, d in uses)
        flag = "--" + name.replace("_", "-")
        if isinstance(default, bool):
            parser.add_argument(f"--no-{name.replace('_', '-')}" if default else flag, dest=name, default=None,
                                action="store_false" if default else "store_true", help=f"default on: {where}")
        else:
            parser.add_argument(flag, type=_option_type(default), default=None, metavar=name.upper(),
                                help=f"default: {where}")
    return tuple(found)


def _option_type(default):
    if isinstance(default, tuple):
        return lambda text: tuple(float(v) for v in text.split(","))
    if default is None:   # the signature does not say: a Python literal (1.5, True), else the text
        return _literal
    return type(default)


def _literal(text):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def _shown(default):
    return ",".join(map(str, default)) if isinstance(default, tuple) else str(default)
