"""Checks of Vensim and XMILE text before PySD's translators parse it.

PySD's Vensim translator passes the text of a lookup range (the ``[...]`` that may open a lookup
definition or the table of ``WITH LOOKUP``) to Python's ``eval``; its grammar admits any
characters there but ``]``, so a range such as ``[(__import__("os").system("..."),0)-(1,1)]``
would run code. Every place where that grammar rule can start, an opening parenthesis followed
(after spaces or backslashes) by ``[``, must hold a range of plain numbers, checked here before
the translator sees the file. The translator's other ``eval`` calls only ever receive text its
grammar has already limited to numbers, or a quote-free string literal; docs/security.md lists
them.

An XMILE file must be UTF-8 text without a document type declaration: XMILE needs none, and one
can declare entities that pull in other files or expand without bound.
"""

from __future__ import annotations

import re
from pathlib import Path

from pssc_sim.errors import ModelError
from pssc_sim.parse.identifiers import shown

_NUMBER = r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"
_PAIR = rf"\(\s*{_NUMBER}\s*,\s*{_NUMBER}\s*\)"
#: A lookup range: ``[(x_min,y_min)-(x_max,y_max)]``, optionally followed by reference points.
LOOKUP_RANGE = re.compile(rf"\s*{_PAIR}\s*-\s*{_PAIR}\s*(?:,\s*{_PAIR}\s*)*")
# Where the translator's lookup-range rule can begin: "(", then spaces or backslashes, then "[".
_RANGE_START = re.compile(r"\([\s\\]*\[")
# The text of an element before its equation: up to "=", "(", "[" or ":".
_ELEMENT_NAME = re.compile(r"\s*(?:\{[^}]*\})?\s*([^=(\[:~|]*)")
_DOCTYPE = re.compile(rb"<!\s*(?:DOCTYPE|ENTITY)", re.IGNORECASE)
_DECLARED = re.compile(rb"^\s*<\?xml[^>]*?encoding\s*=\s*[\"']([^\"']*)[\"']")
_UTF8_NAMES = frozenset({"utf-8", "utf8", "us-ascii", "ascii"})
_FIX_RANGE = "Write it as [(x_min,y_min)-(x_max,y_max)] with plain numbers"


def check_vensim_text(file: str, text: str) -> None:
    """Raise unless every lookup range in the Vensim model ``text`` is plain numbers.

    ``text`` is the model as the translator will parse it.

    >>> check_vensim_text("m.mdl", "t( [(0,0)-(1,1)],(0,0),(1,1)) ~~|")
    >>> check_vensim_text("m.mdl", 't( [(__import__("os"),0)-(1,1)],(0,0),(1,1)) ~~|')
    Traceback (most recent call last):
    ...
    pssc_sim.errors.ModelError: m.mdl: t: a lookup range must be numbers (got \
'[(__import__("os"),0)-(1,1)]'). Write it as [(x_min,y_min)-(x_max,y_max)] with plain numbers
    """
    for match in _RANGE_START.finditer(text):
        end = text.find("]", match.end())
        content = text[match.end() :] if end < 0 else text[match.end() : end]
        if not LOOKUP_RANGE.fullmatch(content):
            variable = element_name(text, match.start())
            raise ModelError(
                f"{file}: {variable}: a lookup range must be numbers "
                f"(got {shown('[' + content + (']' if end >= 0 else ''))}). {_FIX_RANGE}"
            )


def element_name(text: str, position: int) -> str:
    """The name of the Vensim element holding ``position`` (elements end with ``|``)."""
    start = text.rfind("|", 0, position) + 1
    found = _ELEMENT_NAME.match(text, start, position)
    name = " ".join(found.group(1).split()) if found else ""
    if not name:
        return "a variable"
    if not name.isprintable() or len(name) > 80:
        return shown(name)
    return name


def check_xmile_file(path: Path) -> None:
    """Raise unless the XMILE file at ``path`` is UTF-8 text with no document type declaration.

    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "m.xmile"
    >>> _ = path.write_text('<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><xmile/>')
    >>> check_xmile_file(path)
    Traceback (most recent call last):
    ...
    pssc_sim.errors.ModelError: ...m.xmile: a document type declaration (got '<!DOCTYPE x \
[<!ENTITY e SYSTEM "file:///etc/passwd">]><xmile/>'). XMILE files need none: remove it
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelError(f"{path}: cannot read the file ({exc}). Check the path") from None
    _check_utf8(path, data.removeprefix(b"\xef\xbb\xbf"))
    found = _DOCTYPE.search(data)
    if found:
        excerpt = data[found.start() : found.start() + 120].decode("utf-8", "replace")
        raise ModelError(
            f"{path}: a document type declaration (got {shown(excerpt)}). XMILE files need "
            "none: remove it"
        )


def _check_utf8(path: Path, data: bytes) -> None:
    """Raise unless ``data`` is UTF-8 text, as XMILE requires, and declares no other encoding:
    every reader then sees the same characters this check saw."""
    problem = ""
    declared = _DECLARED.match(data)
    if declared and declared.group(1).decode("ascii", "replace").lower() not in _UTF8_NAMES:
        problem = f"the encoding {shown(declared.group(1).decode('ascii', 'replace'))}"
    elif b"\x00" in data:
        problem = f"a NUL byte at offset {data.index(0)}"
    else:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as exc:
            problem = f"byte {data[exc.start]:#04x} at offset {exc.start}"
    if problem:
        raise ModelError(
            f"{path}: an XMILE file must be UTF-8 text (got {problem}). Save the file as UTF-8"
        )
