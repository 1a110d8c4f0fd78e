"""One progress bar for a whole conversion: bytes done, rate, time left.

Shown only on a terminal, so logs of batch jobs stay clean.
"""

from __future__ import annotations

import sys
import threading

from tqdm import tqdm


class ByteProgress:
    def __init__(self, total: int, *, enabled: bool = True, stream=None):
        self.stream = stream or sys.stderr
        self.enabled = enabled and hasattr(self.stream, "isatty") and self.stream.isatty()
        self.total = total
        self.bar = None
        self.lock = threading.Lock()

    def __enter__(self) -> ByteProgress:
        if self.enabled:
            self.bar = tqdm(
                total=self.total, unit="B", unit_scale=True, unit_divisor=1024,
                desc="converting", file=self.stream, dynamic_ncols=True, smoothing=0.1,
            )
        return self

    def advance(self, nbytes: int) -> None:
        if self.bar is not None:
            with self.lock:
                self.bar.update(nbytes)

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.close()
