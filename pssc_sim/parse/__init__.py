"""Reading models: YAML model files (and, through PySD's translators, Vensim and XMILE)."""

from __future__ import annotations

from pathlib import Path

from pssc_sim.errors import ModelError
from pssc_sim.ir.model import Model
from pssc_sim.parse.documents import load_model_file
from pssc_sim.parse.model_file import resolve_model_path

_YAML = {".yaml", ".yml"}
# Read through PySD's translators (pssc_sim.parse.translate imports PySD only when used).
_TRANSLATED = {".mdl", ".xmile", ".xml", ".stmx", ".itmx"}


def load_model(path: str | Path) -> Model:
    """Read a model: a ``.yaml`` file, a folder holding ``model.yaml``, or a Vensim ``.mdl`` or
    XMILE ``.xmile``/``.stmx`` file (read through PySD's translators, ``pssc_sim[vensim]``).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "m.yaml"
    >>> _ = path.write_text("time: {stop: 1}\\nstocks: {x: 1}\\n")
    >>> load_model(path).stock_names
    ('x',)
    """
    file = resolve_model_path(path)
    if file.suffix.lower() in _YAML:
        return load_model_file(file)
    if file.suffix.lower() in _TRANSLATED:
        from pssc_sim.parse.translate import load_translated

        return load_translated(file)
    raise ModelError(
        f"{file}: unsupported model format '{file.suffix}' (got {file.name!r}). "
        "Give a .yaml, .mdl, .xmile or .stmx model file"
    )
