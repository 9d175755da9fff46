"""painter's one version: pyproject.toml's, read from the installed package's metadata."""
from importlib.metadata import PackageNotFoundError, version

__all__ = ["__version__"]

try:
    __version__ = version("painter")
except PackageNotFoundError:   # a source tree that was never installed
    __version__ = "0+unknown"
