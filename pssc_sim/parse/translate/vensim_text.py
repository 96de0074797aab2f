"""Vensim model text made readable for PySD's translator, and its parse failures located.

Vensim allows a comment in braces anywhere in an equation (``x = a + {why} b``); the translator's
grammar does not, and stops with a parse error. :func:`strip_equation_comments` blanks such
comments in the equation part of each element (before its first ``~``), outside quoted names,
and leaves the leading ``{UTF-8}`` mark, units, documentation and the sketch alone.

The translator's grammar reads the main model as everything up to the *last* ``:MACRO:``, so a
macro that follows a group header or other equations, with another macro after it, ends up
inside the main model and fails to parse. :func:`macros_first` moves every macro definition to the
top of the file, where the grammar reads them one by one; where a macro is defined does not
matter to Vensim.

When the translator still cannot parse an equation, its error carries only the equation's text:
:func:`failing_element` finds the element that holds it, so the message can name the variable.
"""

from __future__ import annotations

import re

from pssc_sim.parse.translate.precheck import element_name

#: Where the sketch (diagram) of a Vensim model starts; no equations follow it.
SKETCH = "\\\\\\---///"
_ENCODING = re.compile(r"\s*\{[^}]*\}")


def strip_equation_comments(text: str) -> str:
    """``text`` with every ``{comment}`` inside an equation replaced by a space.

    >>> strip_equation_comments('{UTF-8}\\nx = a + {why} b ~ m {not this} ~ doc {nor this} |')
    '{UTF-8}\\nx = a +   b ~ m {not this} ~ doc {nor this} |'
    >>> strip_equation_comments('"a {b}" = 1 ~~|')
    '"a {b}" = 1 ~~|'
    """
    model, marker, sketch = text.partition(SKETCH)
    start = _ENCODING.match(model)
    head = start.end() if start else 0
    out = [model[:head]]
    field_index, quoted, depth = 0, False, 0
    i = head
    while i < len(model):
        char = model[i]
        if depth:
            depth += {"{": 1, "}": -1}.get(char, 0)
            out.append(char if char == "\n" else "")
            if not depth:
                out.append(" ")
        elif quoted:
            out.append(char)
            if char == "\\" and i + 1 < len(model):
                out.append(model[i + 1])
                i += 1
            elif char == '"':
                quoted = False
        elif char == "{" and field_index == 0:
            depth = 1
        else:
            out.append(char)
            quoted = char == '"' and field_index == 0
            field_index = 0 if char == "|" else field_index + (char == "~")
        i += 1
    if depth:  # an unclosed comment: leave the text for the translator to report
        return text
    return "".join(out) + marker + sketch


_MACRO = re.compile(r":MACRO:.*?:END OF MACRO:", re.DOTALL)


def macros_first(text: str) -> str:
    """``text`` with every macro definition moved before the main model.

    >>> macros_first("{UTF-8}\\nx = M(1) ~~|\\n:MACRO: M(a)\\nM = a ~~|\\n:END OF MACRO:\\n")
    '{UTF-8}\\n:MACRO: M(a)\\nM = a ~~|\\n:END OF MACRO:\\nx = M(1) ~~|\\n\\n'
    """
    model, marker, sketch = text.partition(SKETCH)
    macros = _MACRO.findall(model)
    if not macros:
        return text
    start = _ENCODING.match(model)
    head = start.end() if start else 0
    rest = _MACRO.sub("", model[head:])
    return model[:head] + "\n" + "\n".join(macros) + "\n" + rest.lstrip("\n") + marker + sketch


def failing_element(text: str, equation: object) -> str | None:
    """The name of the element of the model ``text`` whose equation is ``equation`` (the text a
    parse error reports), or ``None`` when it cannot be found.

    The equation is looked for after an ``=``, or at the start of an element (a variable with
    no equation at all); the translator stops at the first element it cannot parse, so the
    first place that holds the text is the one.

    >>> failing_element("a = 1 ~~|\\nb = a +* 2 ~~|", "a +* 2")
    'b'
    >>> failing_element("a = 1 ~~|\\nsales data\\n~~|", "sales data")
    'sales data'
    """
    if not isinstance(equation, str) or not equation.strip():
        return None
    body = re.escape(equation.strip())
    places = [
        found.end()
        for pattern in (rf"=\s*{body}", rf"(?:\A|\|)\s*(?:\{{[^}}]*\}}\s*)?{body}")
        for found in [re.search(pattern, text)]
        if found
    ]
    return element_name(text, min(places)) if places else None


# A subscript range with mappings: "Name: elements -> mappings ~".
_RANGE_WITH_MAPPINGS = re.compile(r"^\s*([^:=(\[~|]+?)\s*:\s*[^~|]*?->\s*([^~|]*?)\s*~", re.DOTALL)
# One mapping to a list: "(Name: item, item, ...)".
_MAPPING_LIST = re.compile(r"\(\s*([^:()]+?)\s*:\s*([^()]*?)\s*\)")


def mapping_lists(text: str) -> dict[str, dict[str, tuple[str, ...]]]:
    """The subscript mappings of ``text`` that list the elements mapped to (``DimB: B1, B2 ->
    (DimA: SubA, A3)``), by range and then target range, each as written (an element or a
    range per element of the range mapped). The translator keeps only the target's name.

    >>> mapping_lists("DimB: B1, B2 -> (DimA: SubA, A3), DimC ~~|\\nx = 1 ~~|")
    {'DimB': {'DimA': ('SubA', 'A3')}}
    """
    model = text.partition(SKETCH)[0]
    found: dict[str, dict[str, tuple[str, ...]]] = {}
    for element in model.split("|"):
        match = _RANGE_WITH_MAPPINGS.match(_ENCODING.sub("", element, count=1))
        if match is None:
            continue
        for target in _MAPPING_LIST.finditer(match.group(2)):
            items = tuple(" ".join(i.split()) for i in target.group(2).split(","))
            name = " ".join(match.group(1).split())
            found.setdefault(name, {})[" ".join(target.group(1).split())] = items
    return found
