"""Model documents to IR: the plain reader, or the arrayed one when a document declares
``dimensions:``; and fragment files checked by the same reader."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pssc_sim.ir.model import Model
from pssc_sim.parse.model_file import Reader, check_document, resolve_model_path
from pssc_sim.parse.yaml_io import read_yaml

if TYPE_CHECKING:
    from pssc_sim.parse.fragments import Fragment


def load_model_file(path: str | Path) -> Model:
    """Read, validate and lower a YAML model file.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "m.yaml").write_text(
    ...     "model: decay\\ntime: {start: 0, stop: 1, dt: 0.5}\\n"
    ...     "stocks: {x: 1}\\nflows: {out: {from: x, rate: x}}\\n")
    >>> load_model_file(folder / "m.yaml").stock_names
    ('x',)
    """
    file = resolve_model_path(path)
    return read_document(str(file), read_yaml(file))


def read_document(file: str, document: Any) -> Model:
    """Validate and lower a model document read from ``file`` (a YAML file, or an imported
    model)."""
    if isinstance(document, Mapping) and "dimensions" in document:
        from pssc_sim.parse.dimensions import ArrayReader  # loaded for arrayed models only

        return ArrayReader(file, document).read()
    return Reader(file, document).read()


def load_fragment(path: str | Path) -> Fragment:
    """Read and validate a fragment file (equations are checked as a model would check them).

    Examples
    --------
    >>> from pssc_sim.parse.fragments import LIBRARY
    >>> fragment = load_fragment(LIBRARY / "clock_start_offset.yaml")
    >>> [i.name for i in fragment.inputs], "reported" in fragment.outputs
    (['measure'], True)
    """
    from pssc_sim.parse.fragments import read_fragment

    return read_fragment(path, check_document)
