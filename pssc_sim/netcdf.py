"""Ensembles written as netCDF classic files (64-bit offset format), streamed to disk.

The header, sized from the results alone, goes first; then each variable's values follow in the
file's order, a slice of members of one saved time at a time. Nothing larger than one slice
(:data:`SLICE_VALUES` values) is copied, whatever the size of the ensemble, and no netCDF
library is needed: xarray (and any netCDF reader) opens the file.

The layout follows Unidata's *NetCDF Classic Format Specification* (the 64-bit offset variant,
``CDF\\x02``): big-endian fields, names and values padded to 4 bytes, non-record variables
stored one after the other, row-major.
"""

from __future__ import annotations

import math
import os
import struct
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np

from pssc_sim.results import Results

#: Values converted and written at once, at most (512 KiB of doubles).
SLICE_VALUES = 1 << 16
NC_CHAR, NC_INT, NC_DOUBLE = 2, 4, 6
_DIMENSION, _VARIABLE, _ATTRIBUTE = 10, 11, 12
_SIZES = {NC_CHAR: 1, NC_INT: 4, NC_DOUBLE: 8}
_INT32 = (-(2**31), 2**31 - 1)

Attribute = str | int | float


@dataclass(frozen=True, slots=True)
class _Variable:
    """A variable of the file: its dimensions, type and how its bytes are produced."""

    name: str
    dims: tuple[str, ...]
    kind: int
    chunks: Iterator[bytes] = field(compare=False)
    attributes: Mapping[str, Attribute] = field(default_factory=dict)


def write_ensemble_file(
    results: Results, handle: BinaryIO, attributes: Mapping[str, Attribute]
) -> None:
    """Write ``results`` to the open binary file ``handle``.

    Each variable is an array over ``(time, member)``; ``member`` counts from 0;
    ``parameter_value`` holds the parameters of every member over ``(parameter, member)``.
    """
    dims, variables = _ensemble_variables(
        results.times,
        results.names,
        results.parameter_names,
        results.n_members,
        [_doubles(results.values[:, j, :]) for j in range(len(results.names))],
        _doubles(results.parameters),
    )
    _write(handle, dims, variables, attributes)


def _ensemble_variables(
    times: np.ndarray,
    names: Sequence[str],
    parameter_names: Sequence[str],
    members: int,
    values: Sequence[Iterator[bytes]],
    parameters: Iterator[bytes],
) -> tuple[dict[str, int], list[_Variable]]:
    """The dimensions and variables of an ensemble's file, the values of each output and of
    the parameters given as the bytes to write."""
    dims = {"time": len(times), "member": members}
    variables = [
        _Variable("time", ("time",), NC_DOUBLE, _doubles(np.asarray(times)[None, :])),
        _Variable("member", ("member",), NC_INT, _member_numbers(members)),
    ]
    variables += [
        _Variable(name, ("time", "member"), NC_DOUBLE, chunks)
        for name, chunks in zip(names, values, strict=True)
    ]
    if parameter_names:
        encoded = [name.encode() for name in parameter_names]
        width = max(1, *(len(name) for name in encoded))
        dims["parameter"] = len(encoded)
        dims[f"string{width}"] = width
        variables.append(
            _Variable(
                "parameter",
                ("parameter", f"string{width}"),
                NC_CHAR,
                iter([b"".join(n.ljust(width, b"\0") for n in encoded)]),
                {"_Encoding": "utf-8"},
            )
        )
        variables.append(
            _Variable("parameter_value", ("parameter", "member"), NC_DOUBLE, parameters)
        )
    return dims, variables


def _member_numbers(members: int) -> Iterator[bytes]:
    """The ``member`` variable, 0 to ``members - 1``, a slice at a time."""
    for first in range(0, members, SLICE_VALUES):
        yield np.arange(first, min(first + SLICE_VALUES, members), dtype=">i4").tobytes()


@dataclass(frozen=True, slots=True)
class Layout:
    """Where an ensemble's values lie in its file: the byte offset of each variable by name,
    and the number of members (each variable is row-major over ``(time or parameter,
    member)``)."""

    members: int
    offsets: Mapping[str, int]


def start_ensemble_file(
    path: Path,
    times: np.ndarray,
    names: Sequence[str],
    parameter_names: Sequence[str],
    members: int,
    attributes: Mapping[str, Attribute],
) -> Layout:
    """Write the file of an ensemble whose members are not here: its header, times, member
    numbers and parameter names, the rest left as zeros for :func:`write_members` to fill in
    (from other processes, each its own members). Once every member is written the file is
    byte for byte the one :func:`write_ensemble_file` writes.

    >>> import tempfile, pathlib
    >>> res = Results(np.array([0.0, 1.0]), ("x",), np.array([[[1.0, 3.0]], [[2.0, 4.0]]]),
    ...               ("k",), np.array([[0.5, 1.0]]), "euler", "demo")
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> layout = start_ensemble_file(folder / "a.nc", res.times, res.names, ("k",), 2, {})
    >>> write_members(folder / "a.nc", layout, 1, res.values[:, :, 1:], res.parameters[:, 1:])
    >>> write_members(folder / "a.nc", layout, 0, res.values[:, :, :1], res.parameters[:, :1])
    >>> write_ensemble(res, folder / "b.nc", {})
    >>> (folder / "a.nc").read_bytes() == (folder / "b.nc").read_bytes()
    True
    """
    empty = [iter(()) for _ in names]
    dims, variables = _ensemble_variables(times, names, parameter_names, members, empty, iter(()))
    with open(path, "wb") as handle:
        offsets = _write(handle, dims, variables, attributes)
        handle.truncate(offsets[-1][1])
    return Layout(
        members, {v.name: offset for v, (offset, _) in zip(variables, offsets, strict=True)}
    )


def write_members(
    path: Path, layout: Layout, first: int, values: np.ndarray, parameters: np.ndarray
) -> None:
    """Write the members ``first`` on of an ensemble, ``values`` (times x outputs x members,
    outputs in the file's order) and ``parameters`` (parameters x members), into its file
    started by :func:`start_ensemble_file`, in place."""
    outputs = [name for name in layout.offsets if name not in _FIXED]
    descriptor = os.open(path, os.O_WRONLY)
    try:
        rows = [(layout.offsets[name], values[:, j, :]) for j, name in enumerate(outputs)]
        if "parameter_value" in layout.offsets:
            rows.append((layout.offsets["parameter_value"], parameters))
        for offset, block in rows:
            for i, row in enumerate(block):
                at = offset + 8 * (i * layout.members + first)
                for start in range(0, row.size, SLICE_VALUES):
                    data = row[start : start + SLICE_VALUES].astype(">f8").tobytes()
                    os.pwrite(descriptor, data, at + 8 * start)
    finally:
        os.close(descriptor)


#: The variables of an ensemble's file that are not outputs.
_FIXED = frozenset({"time", "member", "parameter", "parameter_value"})


def _doubles(rows: np.ndarray) -> Iterator[bytes]:
    """The rows of a 2-D array as big-endian doubles, a slice of a row at a time."""
    for row in rows:
        for first in range(0, row.size, SLICE_VALUES):
            yield row[first : first + SLICE_VALUES].astype(">f8").tobytes()


def _write(
    handle: BinaryIO,
    dims: Mapping[str, int],
    variables: list[_Variable],
    attributes: Mapping[str, Attribute],
) -> list[tuple[int, int]]:
    """Write the file; return where each variable starts and ends (in bytes, padded)."""
    ids = {name: i for i, name in enumerate(dims)}
    sizes = [_padded(_SIZES[v.kind] * math.prod(dims[d] for d in v.dims)) for v in variables]
    head = [b"CDF\x02", _int(0), _dimensions(dims), _attributes(attributes)]
    # the header's length does not depend on the offsets it holds (each 8 bytes)
    length = len(b"".join(head)) + len(_variables(variables, ids, sizes, [0] * len(sizes)))
    offsets = [length + sum(sizes[:i]) for i in range(len(sizes))]
    handle.write(b"".join([*head, _variables(variables, ids, sizes, offsets)]))
    for variable, size in zip(variables, sizes, strict=True):
        written = 0
        for chunk in variable.chunks:
            handle.write(chunk)
            written += len(chunk)
        gap = size - written
        if gap > 8:  # values other processes write (start_ensemble_file): left as a hole
            handle.seek(gap, os.SEEK_CUR)
        else:  # the padding to 4 bytes
            handle.write(b"\0" * gap)
    return [(offset, offset + size) for offset, size in zip(offsets, sizes, strict=True)]


def _variables(
    variables: list[_Variable], ids: Mapping[str, int], sizes: list[int], offsets: list[int]
) -> bytes:
    parts = [_int(_VARIABLE), _int(len(variables))]
    for variable, size, offset in zip(variables, sizes, offsets, strict=True):
        parts += [
            _name(variable.name),
            _int(len(variable.dims)),
            *(_int(ids[d]) for d in variable.dims),
            _attributes(variable.attributes),
            _int(variable.kind),
            _int(min(size, 2**32 - 1)),
            struct.pack(">q", offset),
        ]
    return b"".join(parts)


def _dimensions(dims: Mapping[str, int]) -> bytes:
    return b"".join(
        [
            _int(_DIMENSION),
            _int(len(dims)),
            *(_name(name) + _int(size) for name, size in dims.items()),
        ]
    )


def _attributes(attributes: Mapping[str, Attribute]) -> bytes:
    if not attributes:
        return b"\0" * 8  # ABSENT
    parts = [_int(_ATTRIBUTE), _int(len(attributes))]
    for name, value in attributes.items():
        if isinstance(value, str):
            data, kind, count = value.encode(), NC_CHAR, len(value.encode())
        elif isinstance(value, int) and _INT32[0] <= value <= _INT32[1]:
            data, kind, count = struct.pack(">i", value), NC_INT, 1
        else:  # floats, and integers beyond 32 bits (exact up to 2**53)
            data, kind, count = struct.pack(">d", float(value)), NC_DOUBLE, 1
        parts += [_name(name), _int(kind), _int(count), data.ljust(_padded(len(data)), b"\0")]
    return b"".join(parts)


def _name(name: str) -> bytes:
    data = name.encode()
    return _int(len(data)) + data.ljust(_padded(len(data)), b"\0")


def _int(value: int) -> bytes:
    return struct.pack(">i", value)


def _padded(size: int) -> int:
    return -(-size // 4) * 4


def write_ensemble(results: Results, path: Path, attributes: Mapping[str, Attribute]) -> None:
    """Write ``results`` to ``path`` (see :func:`write_ensemble_file`)."""
    with open(path, "wb") as handle:
        write_ensemble_file(results, handle, attributes)
