"""Give freed memory back to the operating system after a job.

A job allocates hundreds of MB (patch caches of every variant, their copies when variants
split or merge, ONNX Runtime's buffers) and frees them at the end. glibc keeps freed memory
in the allocating thread's heap: the daemon's worker thread idled at 2.2x its start size after
one 4-variant job (bench/memory.py). malloc_trim returns those free pages; elsewhere (macOS,
Windows, musl) this is a no-op.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import functools


@functools.cache
def _libc():
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    return libc if libc is not None and hasattr(libc, "malloc_trim") else None


def release_free_memory() -> bool:
    """Return the C heap's free pages to the OS (glibc); True when it could."""
    libc = _libc()
    if libc is None:
        return False
    libc.malloc_trim(0)
    return True
