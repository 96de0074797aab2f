"""The rules for names read from files (a refused value is shown in a message by
:func:`pssc_sim.errors.shown`).

A model name is an identifier like every variable name: a letter, then letters, digits and
underscores. A scenario name is a label: letters, digits, underscores and hyphens
(``quit-count-target``). Neither may hold spaces, quotes or control characters, so neither can
carry text into generated code, a terminal or a report. A model's ``title`` is free text and is
only ever displayed.
"""

from __future__ import annotations

import re
from typing import Any

from pssc_sim.errors import SHOWN_LIMIT, shown

#: A model or variable name: a letter, then letters, digits and underscores.
IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
#: A scenario name: a letter or digit, then letters, digits, underscores and hyphens.
LABEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
#: The most characters of a refused value that a message shows.
SHOWN_CHARACTERS = SHOWN_LIMIT

__all__ = ["IDENTIFIER", "LABEL", "SHOWN_CHARACTERS", "is_identifier", "is_label", "shown"]


def is_identifier(value: Any) -> bool:
    """Whether ``value`` is a string following the name rule (:data:`IDENTIFIER`)."""
    return isinstance(value, str) and IDENTIFIER.fullmatch(value) is not None


def is_label(value: Any) -> bool:
    """Whether ``value`` is a string following the scenario-name rule (:data:`LABEL`)."""
    return isinstance(value, str) and LABEL.fullmatch(value) is not None
