"""Keeping freed memory for reuse in processes that handle one megabyte-sized request after
another: the sending processes (each builds, serialises and posts a 1 MB body per batch) and the
local SendGrid-compatible server (which reads and parses them).

By default glibc maps a large buffer afresh and hands freed memory back to the kernel, so every
batch touches new pages: about 600 page faults per batch in a sending process, a tenth of its
time spent in the kernel. Raising the two thresholds keeps those pages in the heap for the next
batch; the process holds a few megabytes more."""

from __future__ import annotations

import ctypes

# mallopt's parameter numbers, from glibc's malloc.h.
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
# Buffers up to this size come from the heap (glibc's largest mmap threshold on 64-bit).
HEAP_BUFFERS_UP_TO = 32 * 1024 * 1024
# Freed memory is handed back to the kernel only once this much of it is free at the heap's top.
KEEP_FREE_UP_TO = 64 * 1024 * 1024


def keep_freed_memory() -> bool:
    """Tune this process's allocator as above; False where the C library has no mallopt (not
    glibc: nothing changes there)."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, HEAP_BUFFERS_UP_TO)) and bool(
        mallopt(_M_TRIM_THRESHOLD, KEEP_FREE_UP_TO)
    )
