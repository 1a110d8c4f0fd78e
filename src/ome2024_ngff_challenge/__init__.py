"""Convert OME-Zarr 0.4 (Zarr v2) datasets to OME-Zarr 0.5 (Zarr v3)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("ome2024-ngff-challenge")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"

TOOL_NAME = "ome2024-ngff-challenge"
# Present in an output while its conversion is unfinished (written first, removed
# last): resave resumes from it, validate and update refuse such an output.
INCOMPLETE_MARK = ".ome2024-ngff-challenge-incomplete.json"
