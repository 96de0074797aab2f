"""Names of imported models: Vensim and XMILE names -> snake_case identifiers, and back.

Vensim names may hold spaces, quotes, punctuation and non-ASCII letters, and compare without
regard to case, spaces or underscores. pssc_sim names are ASCII snake_case identifiers, so every
imported name gets one, unique within the model; :class:`NameMap` keeps the way back.
"""

from __future__ import annotations

import keyword
import re
import unicodedata
from dataclasses import dataclass, field

from pssc_sim.ir.builtins import BUILTINS, RESERVED_NAMES

_NOT_WORD = re.compile(r"[^a-z0-9]+")


def name_key(name: str) -> str:
    """The form under which Vensim and XMILE compare names: case, spaces, underscores and
    surrounding quotes do not matter.

    >>> name_key('"Teacup  Temperature"') == name_key("teacup_temperature")
    True
    """
    text = name.strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        text = text[1:-1]
    return re.sub(r"[\s_]+", "_", text.strip().lower())


def identifier(name: str) -> str:
    """A snake_case identifier for ``name`` (not yet made unique).

    >>> identifier("Heat Loss to Room")
    'heat_loss_to_room'
    >>> identifier('"5 o\\'clock"')
    'v_5_o_clock'
    """
    ascii_text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    words = _NOT_WORD.sub("_", ascii_text.lower()).strip("_") or "variable"
    if words[0].isdigit():
        words = f"v_{words}"
    if (
        words.upper() in BUILTINS
        or words in RESERVED_NAMES
        or keyword.iskeyword(words)
        or words.upper() in RESERVED_NAMES
    ):
        words = f"{words}_value"
    return words


@dataclass(slots=True)
class NameMap:
    """Identifiers given to the names of one model, and the original name of each."""

    by_key: dict[str, str] = field(default_factory=dict)
    original: dict[str, str] = field(default_factory=dict)

    def add(self, name: str, *, hidden: bool = False) -> str:
        """Give ``name`` an identifier unique in the model and return it."""
        key = name_key(name)
        if key in self.by_key:
            return self.by_key[key]
        base = identifier(name)
        candidate, n = base, 1
        while candidate in self.original:
            n += 1
            candidate = f"{base}_{n}"
        if not hidden:
            self.by_key[key] = candidate
        self.original[candidate] = name
        return candidate

    def get(self, name: str) -> str | None:
        """The identifier of ``name``, or ``None`` when the model does not define it."""
        return self.by_key.get(name_key(name))
