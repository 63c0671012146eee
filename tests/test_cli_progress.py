"""Progress reports: one process-wide switch (--quiet), bars and phases on stderr only."""

from __future__ import annotations

import pytest

from neurorect import _progress
from neurorect.cli import main


@pytest.fixture
def shown():
    before = _progress.is_configured()
    _progress.configure(enabled=True)
    yield
    _progress.configure(enabled=before)


def test_the_switch_decides_and_an_argument_overrides_it():
    before = _progress.is_configured()
    try:
        _progress.configure(enabled=False)
        assert isinstance(_progress.bar(10, "x"), _progress.SilentBar)
        assert not isinstance(_progress.bar(10, "x", enabled=True), _progress.SilentBar)
        _progress.configure(enabled=True)
        assert isinstance(_progress.bar(10, "x", enabled=False), _progress.SilentBar)
    finally:
        _progress.configure(enabled=before)


def test_phase_and_brian2_report_write_to_stderr_only(shown, capsys):
    with _progress.phase("crossval: building"):
        pass
    with _progress.brian2_report("crossval: Brian2 run") as report:
        for completed in (0.25, 0.5, 1.0):
            report(None, completed, None, None)
        assert report.counter.n == pytest.approx(100.0)
    out, err = capsys.readouterr()
    assert out == "" and "crossval: building: done in" in err and "crossval: Brian2 run" in err


def test_a_sweep_reports_chunks_and_points_and_quiet_silences_it(shown, tmp_path, capsys):
    args = ["sweep", "single_neuron", "--param", "drives.E.I0=0:1:6", "--chunk-size", "2",
            "--out", str(tmp_path / "s.nc")]
    _progress.configure(enabled=True)
    from neurorect.sweeps.execute import ProgressBar

    bar = ProgressBar(3.0, 3, 0, True)  # what run_sweep opens; the executor counts into it
    bar.total_points = 6
    for _ in range(3):
        bar.update(1.0)
        bar.add_points(2)
    assert bar._text() == "sweep: 3/3 chunks, 6/6 points"
    bar.close()
    capsys.readouterr()
    assert main([*args, "--quiet"]) == 0
    assert "sweep:" not in capsys.readouterr().err
