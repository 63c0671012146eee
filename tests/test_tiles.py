"""The SIMD tiles of the uncoupled kernel against its per-unit path, and their invariances.

Oracle: every fast path (deterministic tile, checked tile with OU, white noise or unit
statistics; rate and voltage form; clipped or not; one or several harmonics) is compared
with ``run_uncoupled(..., general_only=True)``, the straightforward per-unit loop, to 1e-12
relative. Metamorphic: the same bits on 1 and 2 threads, in any chunking and in any batch
slot (a tile's lanes never read each other), in float64 and in float32.
"""

from __future__ import annotations

import numba
import numpy as np
import pytest

import neurorect._chunks as chunks
from neurorect import Drive, LeakyReLU, Noise
from neurorect.driver import simulate
from neurorect.kernels.uncoupled import (
    PATH_CHECKED,
    PATH_DETERMINISTIC,
    _unit_classes,
    run_uncoupled,
    schedule_units,
    unit_paths,
)
from neurorect.spec import single_population

SIZE = 150  # two tiles of 128, the second partly padding


def _model(form="rate", clipped=False, noise=None, n_harmonics=1, size=SIZE):
    rng = np.random.default_rng(4)
    drive = Drive(I0=0.2, I1=tuple(rng.uniform(0.1, 1.0, size)),
                  freq=tuple(rng.uniform(5.0, 80.0, size)), phase=0.3,
                  noise=None if noise is None else Noise(
                      kind=noise, sigma=0.4, tau=0.004 if noise == "ou" else 0.0))
    limits = dict(rate_min=-0.3, rate_max=4.0) if clipped else {}
    transfer = LeakyReLU(5.0, 0.1, 0.2, baseline=0.05, **limits)
    return single_population(transfer, tau=0.01, size=size, form=form, drive=drive,
                             dt=1e-4, duration=0.25, transient=0.05, seed=9,
                             n_harmonics=n_harmonics)


def _run(monkeypatch, model, general_only, **options):
    """simulate() with every uncoupled chunk on the per-unit path (``general_only``) or on
    the paths the kernel picks; returns the Dataset and the paths of the first chunk."""
    paths = []

    def advance(step0, steps, setup, evolving, recording, schedule=None):
        if not paths:
            paths.append(unit_paths(setup, evolving, general_only))
        run_uncoupled(step0, steps, setup, evolving, recording, general_only)

    monkeypatch.setattr(chunks, "run_uncoupled", advance)
    return simulate(model, progress=False, **options), paths[0]


def _assert_close(fast, slow, name):
    """<= 1e-12 relative to the field's largest magnitude (the paths differ in rounding
    only: the mid-step drive phasor is computed directly on the tiles and as z exp(i pi f
    dt) per unit, and FMA contraction; both ~1e-16 per step in a contracting map)."""
    scale = np.nanmax(np.abs(slow))
    np.testing.assert_allclose(fast, slow, rtol=1e-12, atol=1e-12 * scale, err_msg=name)


CASES = [
    dict(), dict(form="voltage"), dict(clipped=True), dict(form="voltage", clipped=True),
    dict(n_harmonics=3), dict(form="voltage", n_harmonics=4, clipped=True),
    dict(noise="ou"), dict(noise="white", form="voltage"), dict(noise="ou", n_harmonics=3),
]


@pytest.mark.parametrize("case", CASES, ids=lambda case: "-".join(
    f"{key}={value}" for key, value in case.items()) or "plain")
def test_tiles_equal_the_per_unit_path(monkeypatch, case):
    model = _model(**case)
    fast, paths = _run(monkeypatch, model, False, record_every=1)
    slow, general = _run(monkeypatch, model, True, record_every=1)
    expected = PATH_CHECKED if "noise" in case else PATH_DETERMINISTIC
    assert np.all(paths == expected) and not np.any(general == expected)
    _assert_close(fast.rate.values, slow.rate.values, "rate")
    _assert_close(fast.r0.values, slow.r0.values, "r0")
    coefficient = lambda ds: ds.amplitude.values * np.exp(1j * ds.phase.values)  # noqa: E731
    _assert_close(coefficient(fast), coefficient(slow), "harmonics")


def test_unit_statistics_on_the_tiles_equal_the_per_unit_path(monkeypatch):
    model = _model(noise="ou")
    fast, paths = _run(monkeypatch, model, False, unit_stats=True, record="none")
    slow, _ = _run(monkeypatch, model, True, unit_stats=True, record="none")
    assert np.all(paths == PATH_CHECKED)
    for name in ("fraction_below_threshold", "fraction_zero_rate"):  # counts: exact
        np.testing.assert_array_equal(fast[name].values, slow[name].values)
    _assert_close(fast.rate_variance.values, slow.rate_variance.values, "rate_variance")


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_tiles_give_the_same_bits_on_any_thread_count_chunking_and_batch_slot(dtype):
    noisy, plain = _model(noise="white", size=40), _model(clipped=True, size=40)
    alphas = np.linspace(0.0, 1.0, 5)
    batch = {"populations.E.transfer.alpha": alphas}
    options = dict(batch=batch, record_every=1, dtype=dtype, progress=False)
    before = numba.get_num_threads()
    try:
        for model in (noisy, plain):
            numba.set_num_threads(1)
            one = simulate(model, **options)
            numba.set_num_threads(max(2, before))
            two = simulate(model, **options)
            pieces = simulate(model, chunk_steps=1024, **options)
            alone = simulate(model.with_values({"populations.E.transfer.alpha": alphas[3]}),
                             record_every=1, dtype=dtype, progress=False)
            for other in (two, pieces):
                assert np.array_equal(one.rate.values, other.rate.values)
                assert np.array_equal(one.amplitude.values, other.amplitude.values)
            # slot 3 of the batch shares its tiles with other units; alone it has its own
            assert np.array_equal(one.rate.values[3], alone.rate.values)
            assert np.array_equal(one.phase.values[3], alone.phase.values)
    finally:
        numba.set_num_threads(before)


def test_float32_tiles_follow_the_float32_per_unit_path(monkeypatch):
    # float32 rounds the state at every step on both paths (as_state); they then differ by
    # float32 rounding of differently rounded float64 updates: < 1e-5 relative over a run
    # of a contracting map (a few float32 ulps, 6e-8 each, without growth)
    model = _model(noise="ou")
    fast, _ = _run(monkeypatch, model, False, record_every=1, dtype="float32")
    slow, _ = _run(monkeypatch, model, True, record_every=1, dtype="float32")
    assert fast.rate.dtype == np.float32
    scale = np.abs(slow.rate.values).max()
    np.testing.assert_allclose(fast.rate.values, slow.rate.values, rtol=1e-5,
                               atol=1e-5 * scale)


def test_the_schedule_sorts_by_class_then_window_on_either_sort():
    """schedule_units: units sorted by (class, window start, window end) whether the windows
    fit the one-int64 key (NumPy's sort) or not (three stable sorts, windows beyond 2^26
    steps), and the same tasks (classes, sizes) from both; tiles never mix classes."""
    captured = []

    def advance(step0, steps, setup, evolving, recording, schedule=None):
        captured.append((setup, evolving))
        run_uncoupled(step0, steps, setup, evolving, recording, schedule=schedule)

    mp = pytest.MonkeyPatch()
    mp.setattr(chunks, "run_uncoupled", advance)
    try:  # a mix of classes: deterministic, clipped, OU noise (batch of three models)
        simulate(_model(noise="ou"), progress=False, record="none",
                 batch={"drives.E.noise.sigma": [0.0, 0.4, 0.0],
                        "populations.E.transfer.rate_max": [np.inf, np.inf, 4.0]})
    finally:
        mp.undo()
    setup, evolving = captured[0]
    rng = np.random.default_rng(5)
    windows = setup.windows.copy()
    windows[:, 1] = windows[:, 0] + rng.integers(1, 50, windows.shape[0])
    for shift in (0, 1 << 27):  # the second is beyond the one-key range
        shifted = setup._replace(windows=windows + shift)
        units, kinds, variants, starts, sizes = schedule_units(shifted, evolving)
        group, _ = _unit_classes(shifted, evolving)
        order = np.lexsort((shifted.windows[units, 1], shifted.windows[units, 0],
                            group[units]))
        np.testing.assert_array_equal(order, np.arange(units.size))  # already sorted
        assert sorted(units.tolist()) == list(range(units.size))
        for start, size in zip(starts, sizes, strict=True):
            assert np.unique(group[units[start:start + size]]).size == 1
        tasks = sorted(zip(kinds.tolist(), variants.tolist(), sizes.tolist(), strict=True))
        if shift == 0:
            expected = tasks
        assert tasks == expected
    assert len(set(group.tolist())) == 3  # the three classes were there
