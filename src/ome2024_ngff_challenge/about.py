"""The tool's name and version, as every output records them."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("ome2024-ngff-challenge")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"

TOOL_NAME = "ome2024-ngff-challenge"
