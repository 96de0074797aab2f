"""A project folder of one model and a ``scenarios`` folder, as the scenario tests write them."""

from __future__ import annotations

import textwrap
from pathlib import Path


def scenario_folder(tmp_path: Path, name: str, model_text: str) -> Path:
    """``tmp_path/models/<name>/model.yaml`` holding ``model_text``; returns the empty
    ``tmp_path/scenarios`` folder beside it."""
    (tmp_path / "models" / name).mkdir(parents=True)
    (tmp_path / "models" / name / "model.yaml").write_text(model_text)
    (tmp_path / "scenarios").mkdir()
    return tmp_path / "scenarios"


def write(folder: Path, text: str, name: str = "s") -> Path:
    """The scenario ``text`` (dedented) written as ``folder/<name>.yaml``."""
    path = folder / f"{name}.yaml"
    path.write_text(textwrap.dedent(text))
    return path
