"""Keep a CPU training process's freed tensor memory for reuse instead of handing it back to the OS.

A training step allocates and frees the same large activation buffers every step (a 64 px batch of
32 has dozens of 2-8 MB tensors). glibc's malloc serves blocks that size with mmap, or trims them off
the top of the heap when they are freed, so the next step gets fresh pages and the kernel faults
every one of them in again: 3,700-18,600 page faults per 64 px step (how many depends on where glibc's
self-adjusting thresholds settle), and up to a tenth of the step spent in the kernel with both threads
waiting on it (bench/RESULTS_train.md, 2026-12-05 evening).

`keep_freed_memory` raises glibc's mmap threshold to its maximum (32 MiB) and its trim threshold to
1 GiB, so those buffers come from the heap and stay there between steps. The process's peak
resident memory stays about the same (the same buffers are live at the peak), but it no longer shrinks
after the peak: up to 1 GiB of freed heap stays mapped until the process ends. For a training
process, which runs at its peak again on the next step, that is what we want.

Other C libraries (musl, macOS) are left alone: the call reports that it did nothing.
"""

from __future__ import annotations

import ctypes
import platform
import threading

# mallopt parameters (glibc's malloc.h).
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
# glibc refuses an mmap threshold above HEAP_MAX_SIZE / 2, which is 32 MiB on 64-bit systems.
MMAP_THRESHOLD_BYTES = 32 * 1024 * 1024
TRIM_THRESHOLD_BYTES = 1024 * 1024 * 1024

_lock = threading.Lock()
_applied: bool | None = None


def keep_freed_memory() -> bool:
    """Tune glibc's malloc for training (once per process); True when the settings are in force."""
    global _applied
    with _lock:
        if _applied is None:
            _applied = _apply()
        return _applied


def _glibc() -> bool:
    return platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"


def _apply() -> bool:
    if not _glibc():
        return False
    try:
        # The C library is already loaded into every process: no search (find_library forks a shell).
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    # mallopt returns 1 on success. The mmap threshold goes first: setting either one explicitly
    # also stops glibc from moving both on its own.
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES))
