"""``ensemble.nc``: the streaming netCDF writer gives what xarray writes, reads back exactly, and
never copies the ensemble."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pssc_sim.output import write_netcdf
from pssc_sim.results import Results

xarray = pytest.importorskip("xarray")
# Names are ASCII here: the file holds UTF-8 names as the format says, but xarray through scipy
# decodes names as Latin-1. Values of the parameter coordinate round-trip in UTF-8.


def ensemble(
    n_times: int, names: tuple[str, ...], members: int, parameters: tuple[str, ...], seed: int
) -> Results:
    rng = np.random.default_rng(seed)
    return Results(
        np.linspace(0.0, 10.0, n_times),
        names,
        rng.normal(size=(n_times, len(names), members)),
        parameters,
        rng.normal(size=(len(parameters), members)),
        "euler",
        "demo",
    )


def reference(results: Results, path: Path, attributes: dict[str, object]) -> Path:
    """The same data written by xarray itself (netCDF-3 through scipy)."""
    data = {
        name: (("time", "member"), results.values[:, j, :]) for j, name in enumerate(results.names)
    }
    data["parameter_value"] = (("parameter", "member"), results.parameters)
    xarray.Dataset(
        data,
        coords={
            "time": results.times,
            "member": np.arange(results.n_members),
            "parameter": list(results.parameter_names),
        },
        attrs=attributes,
    ).to_netcdf(path)
    return path


@settings(max_examples=25, deadline=None)
@given(
    st.integers(1, 5),
    st.lists(
        st.sampled_from(["x", "stock[a,b]", "y.z", "_9"]), min_size=1, max_size=3, unique=True
    ),
    st.integers(1, 70_000 // 3),
    st.lists(st.sampled_from(["k", "rate", "δ_long_name"]), min_size=1, max_size=3, unique=True),
    st.integers(0, 2**31 - 1),
)
def test_the_file_reads_back_as_what_xarray_writes(
    tmp_path_factory: pytest.TempPathFactory,
    n_times: int,
    names: list[str],
    members: int,
    parameters: list[str],
    seed: int,
) -> None:
    folder = tmp_path_factory.mktemp("nc")
    results = ensemble(n_times, tuple(names), members, tuple(parameters), seed)
    attributes: dict[str, object] = {
        "model": "demo",
        "method": "euler",
        "scenario": "s",
        "seed": seed,
    }
    written = write_netcdf(results, folder / "ensemble.nc", {"scenario": "s", "seed": seed})
    with (
        xarray.open_dataset(written) as ours,
        xarray.open_dataset(reference(results, folder / "ref.nc", attributes)) as theirs,
    ):
        xarray.testing.assert_identical(ours.load(), theirs.load())


def test_a_seed_beyond_32_bits_is_kept(tmp_path: Path) -> None:
    results = ensemble(3, ("x",), 4, ("k",), 1)
    path = write_netcdf(results, tmp_path / "ensemble.nc", {"seed": 2**32 - 1})
    with xarray.open_dataset(path) as data:
        assert data.attrs["seed"] == 2**32 - 1


def test_writing_copies_a_slice_not_the_ensemble(tmp_path: Path) -> None:
    results = ensemble(50, ("a", "b", "c", "d"), 25_000, ("k",), 2)  # 38 MiB of outputs
    tracemalloc.start()
    try:
        write_netcdf(results, tmp_path / "ensemble.nc")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2 * 1024**2
    with xarray.open_dataset(tmp_path / "ensemble.nc") as data:
        np.testing.assert_array_equal(data["c"].values, results.values[:, 2, :])
        np.testing.assert_array_equal(data["parameter_value"].values, results.parameters)
