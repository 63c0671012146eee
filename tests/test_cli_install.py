"""A non-editable install ships the model catalogue: built as a wheel, installed outside the
source tree, ``neurorect models`` lists the models and ``neurorect run NAME`` runs one."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MODELS = sorted(path.name for path in (ROOT / "models").glob("*.toml"))


@pytest.mark.slow
def test_a_wheel_ships_the_models_and_runs_them_by_name(tmp_path):
    wheels, target, elsewhere = tmp_path / "wheels", tmp_path / "site", tmp_path / "work"
    elsewhere.mkdir()
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels),
                    str(ROOT)], check=True, timeout=600)
    (wheel,) = wheels.glob("neurorect-*.whl")
    packaged = sorted(Path(name).name for name in zipfile.ZipFile(wheel).namelist()
                      if name.startswith("neurorect/models/") and name.endswith(".toml"))
    assert packaged == MODELS  # every file of models/, no more
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target",
                    str(target), str(wheel)], check=True, timeout=600)
    env = {**os.environ, "PYTHONPATH": str(target)}

    def neurorect(*args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "neurorect.cli", *args], cwd=elsewhere,
                              env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr
        return done.stdout

    where = subprocess.run([sys.executable, "-c", "import neurorect; print(neurorect.__file__)"],
                           cwd=elsewhere, env=env, capture_output=True, text=True, check=True)
    assert Path(where.stdout.strip()).is_relative_to(target)  # the installed copy, not ROOT
    listed = neurorect("models")
    for name in MODELS:
        assert Path(name).stem in listed
    printed = neurorect("run", "single_neuron", "--duration", "0.5 s", "--quiet")
    assert printed.startswith("single_neuron: 1 neuron, 0.5 s")
