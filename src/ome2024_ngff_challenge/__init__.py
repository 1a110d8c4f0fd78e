"""Convert OME-Zarr 0.4 (Zarr v2) datasets to OME-Zarr 0.5 (Zarr v3).

The Python API (see ``api``): ``resave``, ``resave_collection``,
``resave_in_place``, ``undo_in_place``, ``upgrade_in_place``, ``undo_upgrade``
(OME-Zarr 0.5 -> 0.6 in place), ``write_details``, ``validate``,
``update``, ``lookup``, ``catalog`` and ``serve``, with ``S3Options`` and the errors of
``errors``.
"""

from .about import TOOL_NAME, __version__

_API = ("resave", "resave_collection", "resave_in_place", "undo_in_place", "upgrade_in_place", "undo_upgrade",
        "write_details", "validate", "update", "lookup", "catalog", "serve", "S3Options")
__all__ = [*_API, "TOOL_NAME", "__version__"]


def __getattr__(name: str):
    # The API is loaded on first use: the command line and every submodule
    # import this package, and should not pay for all of it.
    if name in _API:
        from . import api

        return getattr(api, name)
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)
