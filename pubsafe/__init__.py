"""pubsafe: the operator CLI and the narrated demo, on top of refimpl and faults."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("pubsafe")
except PackageNotFoundError:  # run from a checkout that was never installed
    __version__ = "0+unknown"

__all__ = ["__version__"]
