"""Reading models: YAML model files (and, through PySD's translators, Vensim and XMILE)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from pssc_sim.errors import ModelError, ParameterError, shown
from pssc_sim.ir.model import Model
from pssc_sim.parse.documents import load_model_file, read_document
from pssc_sim.parse.model_file import resolve_model_path
from pssc_sim.parse.yaml_reader import load_yaml

_YAML = {".yaml", ".yml"}
# Read through PySD's translators (pssc_sim.parse.translate imports PySD only when used).
_TRANSLATED = {".mdl", ".xmile", ".xml", ".stmx", ".itmx"}


def load_model(
    path: str | Path, *, data_tags: Mapping[str, str | os.PathLike[str]] | None = None
) -> Model:
    """Read a model: a ``.yaml`` file, a folder holding ``model.yaml``, or a Vensim ``.mdl`` or
    XMILE ``.xmile``/``.stmx`` file (read through PySD's translators, ``pssc_sim[vensim]``).

    ``data_tags`` maps the tags that name data files in a Vensim model (``'?data'``, set in
    Vensim's run settings, not in the model) to the files: ``{"data": "inputs/data.xlsx"}``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "m.yaml"
    >>> _ = path.write_text("time: {stop: 1}\\nstocks: {x: 1}\\n")
    >>> load_model(path).stock_names
    ('x',)
    """
    _check_path(path)
    file = resolve_model_path(path)
    if file.suffix.lower() in _YAML:
        if data_tags:
            raise ParameterError(
                f"load_model: data_tags name the data files of a Vensim model's tags (got "
                f"{sorted(data_tags)} for {file.name!r}). Leave data_tags out for a YAML model"
            )
        return load_model_file(file)
    if file.suffix.lower() in _TRANSLATED:
        from pssc_sim.parse.translate import load_translated

        return load_translated(file, data_tags)
    raise ModelError(
        f"{file}: unsupported model format '{file.suffix}' (got {file.name!r}). "
        "Give a .yaml, .mdl, .xmile or .stmx model file"
    )


def _check_path(path: object) -> None:
    """Refuse what is not a path, with a hint for model text given in its place.

    A str holding a newline, or too long for a path, is taken for model text unless it names
    something that exists (a folder's name may hold a newline; the name rule refuses it later).
    """
    if isinstance(path, str) and ("\n" in path or len(path) > 4096) and not os.path.lexists(path):
        holding = "holding a newline" if "\n" in path else "too long for a path"
        raise ParameterError(
            f"load_model: takes a path (got str of {len(path)} characters {holding}). For model "
            "text use load_model_text"
        )
    if not isinstance(path, (str, os.PathLike)):
        raise ParameterError(
            f"load_model: takes a path (got {type(path).__name__} {shown(path, 60)}). Give a str "
            "or pathlib.Path; for model text use load_model_text"
        )


def load_model_text(text: str, name: str = "model") -> Model:
    """Read a model from YAML text, as :func:`load_model` reads a ``.yaml`` file.

    Parameters
    ----------
    text
        The model document, as a model file holds it.
    name
        The model's name when the text has no ``model:`` key; messages about the text start
        with it, and ``include:`` paths are relative to the working folder.

    Examples
    --------
    >>> text = "time: {stop: 2}\\nstocks: {x: 1}\\nflows: {out: {from: x, rate: x / 2}}"
    >>> model = load_model_text(text, name="drain")
    >>> model.name, model.stock_names
    ('drain', ('x',))
    """
    if not isinstance(text, str):
        raise ParameterError(
            f"load_model_text: takes the model as text (got {type(text).__name__} "
            f"{shown(text, 60)}). For a file use load_model"
        )
    if not isinstance(name, str) or not name:
        raise ParameterError(
            f"load_model_text: name must be a non-empty str (got "
            f"{shown(name, 60)}). Give the model's name, such as name='sir'"
        )
    document = load_yaml(text, name)
    if isinstance(document, Mapping) and "model" not in document:
        document = {"model": name, **document}
    return read_document(name, document)
