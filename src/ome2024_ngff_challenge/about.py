"""The tool's name and version, as every output records them, and the names of
what it leaves in an output."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("ome2024-ngff-challenge")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"

TOOL_NAME = "ome2024-ngff-challenge"

# Present in an output while its conversion is unfinished (written first, removed
# last): resave resumes from it, validate and update refuse such an output.
INCOMPLETE_MARK = ".ome2024-ngff-challenge-incomplete.json"
# The record of what a conversion writes into its output (every file, and the
# chunk keys of every array), written before the first of them and kept:
# --output-overwrite deletes only what it lists.
OUTPUT_RECORD = ".ome2024-ngff-challenge-output.json"
# The record of a 0.5 view added in place beside a 0.4 dataset (resave
# --in-place): every file it added, so that --undo removes exactly those.
IN_PLACE_RECORD = ".ome2024-ngff-challenge-in-place.json"
# The record of a 0.5 dataset upgraded to 0.6 in place (the group metadata it
# replaced, for --undo); an output of ours may hold it (--output-overwrite deletes it).
UPGRADE_RECORD = ".ome2024-ngff-challenge-upgrade-0.6.json"
# The attribute of every converted array that holds its conversion statistics.
STATS_KEY = "_ome2024_ngff_challenge_stats"
# The attribute of the top group of a dataset upgraded from OME-Zarr 0.5 to 0.6
# in place that says what the upgrade did (the arrays' statistics stay theirs).
UPGRADE_KEY = "_ome2024_ngff_challenge_upgrade"
