"""Keep freed memory in the process for reuse (glibc), so that large tensors do not page-fault at every step.

glibc's malloc serves a request above its mmap threshold (at most 32 MiB, raised on the fly up to there) with
a fresh ``mmap`` and unmaps it on ``free``; the next tensor of that size is new memory, and the kernel zeroes
each of its pages at the first touch. Torch allocates a fresh tensor per operation, so once the E × 32 float32
edge tensors of a velocity network pass 32 MiB (E ≈ 262 000, N ≈ 15 000 at cutoff 1.5) every step pays the
faults: at N = 32 768 a chain draw took 20.5 s of CPU, 10.4 s of it system time, and 6.8 M minor faults, against
11.1 s, 0.1 s and none with the thresholds below. The price is memory: freed blocks split by small allocations
are kept too (peak resident memory 1393 MiB instead of 1164 there; docs/performance.md, "Scaling in N").

:func:`keep_freed_memory` raises the mmap and trim thresholds to ``limit`` bytes for the rest of the process.
The command line calls it once at start (``glassgen.cli.app.main``); a library user may too. Elsewhere than
glibc it does nothing.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # mallopt parameters of glibc's malloc.h


def keep_freed_memory(limit: int = 1 << 30) -> bool:
    """Serve allocations up to ``limit`` bytes from the heap and keep up to ``limit`` freed bytes there.

    Returns True where glibc took both settings, False elsewhere (another libc, none found, or a process
    started with glibc's own malloc settings, ``GLIBC_TUNABLES`` or ``MALLOC_*_`` variables, which are kept).
    """
    if "GLIBC_TUNABLES" in os.environ or any(k.startswith("MALLOC_") for k in os.environ):
        return False
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, int(limit))) and bool(mallopt(M_TRIM_THRESHOLD, int(limit)))
