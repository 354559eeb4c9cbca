"""glassgen.core.heap: with freed memory kept, a large tensor reuses it instead of page-faulting fresh pages."""
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CODE = """
import resource, sys, torch
from glassgen.core.heap import keep_freed_memory
if sys.argv[1] == "keep":
    assert keep_freed_memory()
for step in range(30):  # a loop that makes and drops a 64 MiB tensor, as every network evaluation does
    if step == 20:
        f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    y = torch.ones(1 << 24)  # above the largest mmap threshold glibc picks by itself (32 MiB)
    del y
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0)
"""


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc" or "GLIBC_TUNABLES" in os.environ
                    or any(k.startswith("MALLOC_") for k in os.environ), reason="glibc with its default settings only")
def test_large_tensors_reuse_freed_memory_instead_of_faulting_pages():
    faults = {}
    for mode in ("default", "keep"):
        res = subprocess.run([sys.executable, "-c", CODE, mode], capture_output=True, text=True, cwd=ROOT,
                             env={**os.environ, "PYTHONPATH": str(ROOT)})
        assert res.returncode == 0, res.stderr[-2000:]
        faults[mode] = int(res.stdout.strip().splitlines()[-1])
    pages = 10 * (1 << 26) // 4096  # the last ten 64 MiB tensors in 4 KiB pages
    assert faults["default"] >= 0.9 * pages, faults  # glibc's defaults: every tensor is fresh memory
    assert faults["keep"] <= 0.01 * pages, faults  # kept: the loop runs in memory it already has
