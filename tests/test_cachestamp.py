"""The kernels' Numba cache is dropped when any kernel source changes (Numba's own key, one
file's mtime and size, misses code inlined from another file)."""

from __future__ import annotations

from neurorect.kernels.cachestamp import refresh_cache, source_hash


def _cached(folder):
    return sorted(p.name for p in (folder / "__pycache__").glob("*.nb[ic]"))


def test_an_edit_in_any_kernel_file_drops_every_cached_kernel(tmp_path):
    (tmp_path / "random.py").write_text("X = 1\n")
    (tmp_path / "network.py").write_text("from random import X\n")
    cache = tmp_path / "__pycache__"
    cache.mkdir()

    def compile_all():  # what Numba leaves behind
        for name in ("network.run-1.py311.nbi", "network.run-1.py311.0.nbc"):
            (cache / name).write_bytes(b"machine code")

    compile_all()
    assert refresh_cache(tmp_path)  # no stamp yet: a cache of unknown sources is dropped
    assert _cached(tmp_path) == []
    compile_all()
    assert not refresh_cache(tmp_path) and len(_cached(tmp_path)) == 2  # unchanged sources
    (tmp_path / "random.py").write_text("X = 2\n")  # the inlined file, not network.py
    assert refresh_cache(tmp_path) and _cached(tmp_path) == []
    assert (cache / "neurorect-kernels.sha256").read_text().strip() == source_hash(tmp_path)


def test_the_installed_kernels_carry_their_stamp():
    from pathlib import Path

    import neurorect.kernels as kernels

    folder = Path(kernels.__file__).parent
    assert (folder / "__pycache__" / "neurorect-kernels.sha256").read_text().strip() == \
        source_hash(folder)
