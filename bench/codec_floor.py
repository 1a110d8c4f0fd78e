"""The codec floor of a conversion: no Zarr, only the codecs.

    python3 bench/codec_floor.py INPUT OUTPUT_FILE [--threads N]

Decompresses every chunk of every Zarr v2 array under INPUT (Blosc, as
bioformats2raw writes) and recompresses it with the converter's default
output codec (Blosc zstd, clevel 5, byte shuffle, typesize from the array's
dtype), on N threads (default 2), appending the compressed bytes to
OUTPUT_FILE in a fixed order. bench.py runs it as its own process so its
wall time, CPU time and peak RSS are measured like the converters'.
Prints one line: chunks, bytes in (uncompressed), bytes out.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import deque
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numcodecs import Blosc, blosc

# numcodecs then calls the context (GIL-free, single-threaded) Blosc
# functions, so N worker threads are N cores, like --output-threads=N.
blosc.use_threads = False

WINDOW = 16  # chunks in flight (a sliding window): bounds memory


def array_chunks(root: str):
    """(dtype, chunk file) for every chunk of every v2 array under root, sorted."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        if ".zarray" not in filenames:
            continue
        with open(os.path.join(dirpath, ".zarray"), encoding="utf-8") as f:
            meta = json.load(f)
        dtype = np.dtype(meta["dtype"])
        files = []
        for sub, subdirs, names in os.walk(dirpath):
            subdirs.sort()
            files.extend(os.path.join(sub, n) for n in names if not n.startswith("."))
        dirnames[:] = []  # chunk folders hold no groups
        for path in sorted(files):
            yield dtype, path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("input")
    ap.add_argument("output")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)

    encoders: dict[int, Blosc] = {}

    def encoder(typesize: int) -> Blosc:
        if typesize not in encoders:
            encoders[typesize] = Blosc(cname="zstd", clevel=5, shuffle=Blosc.SHUFFLE)
        return encoders[typesize]

    def convert(item):
        dtype, path = item
        with open(path, "rb") as f:
            raw = blosc.decompress(f.read())
        # typesize comes from the buffer's itemsize
        data = np.frombuffer(raw, dtype=dtype)
        return len(raw), encoder(dtype.itemsize).encode(data)

    n = bytes_in = bytes_out = 0
    pending: deque = deque()
    with open(args.output, "wb") as out, ThreadPoolExecutor(args.threads) as pool:
        for item in array_chunks(args.input):
            pending.append(pool.submit(convert, item))
            if len(pending) < WINDOW:
                continue
            size, enc = pending.popleft().result()
            out.write(enc)
            n += 1
            bytes_in += size
            bytes_out += len(enc)
        while pending:
            size, enc = pending.popleft().result()
            out.write(enc)
            n += 1
            bytes_in += size
            bytes_out += len(enc)
    print(f"chunks {n} bytes_in {bytes_in} bytes_out {bytes_out}")
    return 0 if n else 1


if __name__ == "__main__":
    sys.exit(main())
