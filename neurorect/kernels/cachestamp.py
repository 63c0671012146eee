"""Numba's on-disk cache, invalidated by the content of the whole kernels package.

Numba keys a cached function on its own file's modification time and size only. The kernels
inline functions from other files (``random``, ``step``, ``transfer``, ``drive``, ...), so
after an edit or an upgrade of one of those, a caller's cache would still load the old
machine code: silently different numbers (measured: the network kernel kept the previous
noise generator after ``random.py`` changed). :func:`refresh_cache` compares a hash of every
kernel source with the one stored beside the cache and, when they differ, deletes the
package's cached machine code so that Numba compiles afresh. Standard library only (no
Numba import), run once when :mod:`neurorect.kernels` is imported.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

__all__ = ["refresh_cache", "source_hash"]

_HERE = Path(__file__).resolve().parent
_STAMP = "neurorect-kernels.sha256"


def source_hash(folder: Path = _HERE) -> str:
    """SHA-256 over the names and contents of the package's ``*.py`` files, in order."""
    digest = hashlib.sha256()
    for path in sorted(folder.glob("*.py")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def refresh_cache(folder: Path = _HERE) -> bool:
    """Delete the cached machine code of ``folder``'s kernels if any of its sources changed
    since it was compiled; returns True when it did. A folder that cannot be written (a
    read-only install, where Numba cannot cache either) is left alone."""
    cache = folder / "__pycache__"
    current = source_hash(folder)
    stamp = cache / _STAMP
    try:
        if stamp.read_text().strip() == current:
            return False
    except OSError:
        pass  # no stamp yet: a fresh install, or a cache from before the stamp
    try:
        cache.mkdir(exist_ok=True)
        for stale in [*cache.glob("*.nbi"), *cache.glob("*.nbc")]:
            stale.unlink(missing_ok=True)
        stamp.write_text(current + "\n")
    except OSError:
        return False
    return True
