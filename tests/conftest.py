"""Shared helpers: models are written fresh into a temporary folder and loaded from there."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import pssc_sim as ps

WriteModel = Callable[..., ps.Model]


@pytest.fixture(scope="session", autouse=True)
def kernel_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Compiled kernels go to a cache folder of the test run's own, never the user's: made empty
    for each run (as on a fresh machine), shared by every test of the run (and the processes
    they start), so a model's loop compiles once per run. No extension module of a loop is
    built in the background (``PSSC_AOT=off``): the tests of that build start it themselves."""
    folder = tmp_path_factory.mktemp("kernels")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PSSC_CACHE_DIR", str(folder))
        patch.setenv("PSSC_AOT", "off")
        yield folder


def write_yaml(folder: Path, text: str, name: str = "model.yaml") -> Path:
    """Write a dedented YAML string into ``folder/name`` and return the path."""
    path = folder / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


@pytest.fixture
def model_path(tmp_path: Path) -> Callable[..., Path]:
    """``model_path(text, name='model.yaml')`` writes a model file and returns its path."""

    def write(text: str, name: str = "model.yaml") -> Path:
        return write_yaml(tmp_path, text, name)

    return write


@pytest.fixture
def make_model(model_path: Callable[..., Path]) -> WriteModel:
    """``make_model(text)`` writes a YAML model into ``tmp_path`` and loads it."""

    def load(text: str, name: str = "model.yaml") -> ps.Model:
        return ps.load_model(model_path(text, name))

    return load


def load_text(text: str) -> ps.Model:
    """Load a model from a YAML string without a pytest fixture (for hypothesis tests).

    The file lives only while it is read: the returned model keeps no reference to it.
    """
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        return ps.load_model(write_yaml(Path(folder), text))
