"""The command line (``main``), one module per sub-command, and the options
they share (``options``). Nothing below this package imports it."""
