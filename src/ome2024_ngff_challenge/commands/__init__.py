"""The command line (``main``), one module per sub-command, and the options
they share (``options``). Nothing below this package imports it."""

import os

# The converter does no linear algebra: one OpenBLAS thread instead of a pool
# of them, whose start and stop cost every command ~0.07 s of wall time (set
# before numpy is first imported; a value the user set is kept).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
