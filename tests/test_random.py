"""Vensim's random functions in imported models."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import pssc_sim as ps

pytest.importorskip("pysd", reason="the vensim extra (PySD's translators) is not installed")

CONTROL = ("INITIAL TIME = 0 ~ Month ~ |\nFINAL TIME = 10 ~ Month ~ |\n"
           "TIME STEP = 0.25 ~ Month ~ |\nSAVEPER = TIME STEP ~ Month ~ |\n")


def load(tmp_path: Path, name: str, text: str) -> ps.Model:
    path = tmp_path / name
    path.write_text(text + CONTROL, encoding="utf-8")
    return ps.load_model(path)


def test_pink_noise_without_deviation_is_its_mean(tmp_path: Path) -> None:
    model = load(tmp_path, "pink.mdl", "Noise = RANDOM PINK NOISE(Mean, Deviation, 2, 1) ~~|\n"
                                       "Mean = 3 + RAMP(1, 2, 5) ~~|\nDeviation = 0 ~~|\n")
    res = ps.simulate(model)
    np.testing.assert_array_equal(res["noise"], res["mean"])


@pytest.mark.parametrize(("deviation", "shown"), [("0.1", "got 0.1"),
                                                  ("Level", "got one known only during the run")])
def test_pink_noise_with_a_deviation_is_refused(tmp_path: Path, deviation: str,
                                                shown: str) -> None:
    text = (f"Noise = RANDOM PINK NOISE(3, {deviation}, 2, 1) ~~|\n"
            "Level = INTEG(0, 0.1) ~~|\n")
    with pytest.raises(ps.ModelError, match=rf"Noise: unsupported construct 'RANDOM PINK NOISE "
                                            rf"with a standard deviation other than 0' \({shown}"
                                            r"\)\. Set the standard deviation to 0"):
        load(tmp_path, "noisy.mdl", text)


def test_pink_noise_with_missing_arguments_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ps.ModelError, match=r"RANDOM PINK NOISE takes 4 arguments, not 2"):
        load(tmp_path, "short.mdl", "Noise = RANDOM PINK NOISE(3, 0) ~~|\n")
