"""Vensim ``.mdl`` and XMILE (``.xmile``, ``.stmx``) models, read through PySD's translators.

:func:`load_translated` reads a model into the IR; :func:`convert` writes it as a pssc_sim YAML
model file. Both go through :func:`translate`, which builds the YAML document, so a converted file
runs exactly as the original.
"""

from __future__ import annotations

from pssc_sim.parse.translate.document import Translation, translate
from pssc_sim.parse.translate.writer import convert, convert_command, load_translated, write_yaml

#: File suffixes read through the translators.
SUFFIXES = frozenset({".mdl", ".xmile", ".xml", ".stmx", ".itmx"})

__all__ = [
    "SUFFIXES",
    "Translation",
    "convert",
    "convert_command",
    "load_translated",
    "translate",
    "write_yaml",
]
