"""Qualitative causal-loop diagram files: variables and signed links, no equations.

What a workshop produces before a model is quantified::

    cld: smoking-strategy-map
    title: Reducing smoking
    variables:
      smokers: {kind: stock, description: adults who smoke}
      quit_attempts: {}
    links:
      - {from: smokers, to: quit_attempts, polarity: "+"}
      - [quit_attempts, smokers, "-"]          # shorthand: [cause, effect, polarity]

Variables named only in links are added; ``kind`` is ``stock`` or ``variable`` (the default).
A variable may carry ``perspective:`` (``capability``, ``process``, ``outcome`` or
``value_for_money``): it is then a measure of a qualitative strategy map (``pssc strategy-map``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pssc_sim.errors import ModelError, did_you_mean, shown
from pssc_sim.ir.causal import CausalGraph, Link, NodeKind, Polarity
from pssc_sim.parse.yaml_reader import read_yaml

_TOP_KEYS = ("cld", "title", "description", "variables", "links")
_LINK_KEYS = ("from", "to", "polarity", "description")
_POLARITY = {
    "+": Polarity.POSITIVE,
    "positive": Polarity.POSITIVE,
    "s": Polarity.POSITIVE,
    "-": Polarity.NEGATIVE,
    "negative": Polarity.NEGATIVE,
    "o": Polarity.NEGATIVE,
    "?": Polarity.UNKNOWN,
    "unknown": Polarity.UNKNOWN,
}
_KINDS = {"stock": NodeKind.STOCK, "variable": NodeKind.VARIABLE}


def is_cld_document(document: Any) -> bool:
    """Whether a YAML document is a qualitative diagram (it has ``links`` and no equations)."""
    return isinstance(document, Mapping) and (
        "cld" in document
        or ("links" in document and not {"stocks", "flows", "auxiliaries"} & set(document))
    )


def load_cld_file(path: str | Path) -> CausalGraph:
    """Read a qualitative causal-loop diagram file into a :class:`CausalGraph`.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "map.yaml"
    >>> _ = path.write_text("cld: demo\\nlinks:\\n  - [a, b, '+']\\n  - [b, a, '-']\\n")
    >>> [(lk.cause, lk.effect, lk.polarity.value) for lk in load_cld_file(path).links]
    [('a', 'b', '+'), ('b', 'a', '-')]
    """
    file = Path(path)
    return _CldReader(str(file), read_yaml(file)).read()


class _CldReader:
    def __init__(self, file: str, document: Any) -> None:
        self.file = file
        self.document = document

    def error(self, key_path: str, message: str) -> ModelError:
        return ModelError(f"{self.file}: {key_path}: {message}")

    def read(self) -> CausalGraph:
        if not isinstance(self.document, Mapping):
            kind = type(self.document).__name__
            raise ModelError(
                f"{self.file}: a diagram file must be a YAML mapping (got {kind}). "
                "Start with 'cld: name' and 'links:'"
            )
        for key in self.document:
            if key not in _TOP_KEYS:
                hint = did_you_mean(str(key), _TOP_KEYS) or " Use cld, title, variables, links."
                raise self.error(str(key), f"unknown key {shown(key)}.{hint}")
        nodes = self.variables()
        raw_links = self.document.get("links") or []
        links = [self.link(i, raw, nodes) for i, raw in enumerate(raw_links)]
        seen: dict[tuple[str, str], int] = {}
        for i, link in enumerate(links):
            key = (link.cause, link.effect)
            if key in seen:
                raise self.error(
                    f"links[{i}]",
                    f"the link {link.cause} -> {link.effect} is "
                    f"already given as links[{seen[key]}] (got it twice). Keep one",
                )
            seen[key] = i
        return CausalGraph(nodes, tuple(links))

    def variables(self) -> dict[str, NodeKind]:
        raw = self.document.get("variables") or {}
        if not isinstance(raw, Mapping):
            raise self.error(
                "variables",
                f"expected a mapping of names (got {shown(raw)}). Write "
                "'variables:' then 'name: {kind: stock}' lines",
            )
        nodes: dict[str, NodeKind] = {}
        for name, spec in raw.items():
            kind = (spec or {}).get("kind", "variable") if isinstance(spec, Mapping) else None
            if kind not in _KINDS:
                raise self.error(
                    f"variables.{name}.kind", f"unknown kind {shown(kind)}. Use stock or variable"
                )
            nodes[str(name)] = _KINDS[kind]
        return nodes

    def link(self, index: int, raw: Any, nodes: dict[str, NodeKind]) -> Link:
        path = f"links[{index}]"
        if isinstance(raw, list) and len(raw) == 3:
            cause, effect, sign = raw
        elif isinstance(raw, Mapping):
            for key in raw:
                if key not in _LINK_KEYS:
                    hint = did_you_mean(str(key), _LINK_KEYS) or " Use from, to, polarity."
                    raise self.error(f"{path}.{key}", f"unknown key {shown(key)}.{hint}")
            cause, effect, sign = raw.get("from"), raw.get("to"), raw.get("polarity")
        else:
            raise self.error(
                path,
                f"expected [cause, effect, polarity] or a mapping (got "
                f"{shown(raw)})."
                " Write - [a, b, '+']",
            )
        for end in (cause, effect):
            if not isinstance(end, str) or not end:
                raise self.error(
                    path,
                    f"a link needs two variable names (got {shown(end)}). "
                    "Name the "
                    "cause and the effect",
                )
            nodes.setdefault(end, NodeKind.VARIABLE)
        polarity = _POLARITY.get(str(sign).strip().lower())
        if polarity is None:
            raise self.error(
                f"{path}.polarity",
                f"unknown polarity {shown(sign)}. Use '+', '-' or '?' (quoted in YAML)",
            )
        if cause == effect:
            raise self.error(
                path,
                f"a link from '{cause}' to itself (got {shown(raw)}). Link two different variables",
            )
        return Link(cause, effect, polarity)


#: Perspectives a diagram variable may carry (``perspective:``), as in a model's measures.
PERSPECTIVES = ("capability", "process", "outcome", "value_for_money")


def load_cld_perspectives(path: str | Path) -> dict[str, str]:
    """The ``perspective:`` of each variable of a diagram file that has one (its measures).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "map.yaml"
    >>> _ = path.write_text("cld: demo\\nvariables:\\n  a: {perspective: outcome}\\n"
    ...                     "links:\\n  - [b, a, '+']\\n")
    >>> load_cld_perspectives(path)
    {'a': 'outcome'}
    """
    file = Path(path)
    raw = read_yaml(file).get("variables") or {}
    found: dict[str, str] = {}
    for name, spec in raw.items() if isinstance(raw, Mapping) else ():
        perspective = spec.get("perspective") if isinstance(spec, Mapping) else None
        if perspective is None:
            continue
        if perspective not in PERSPECTIVES:
            hint = did_you_mean(str(perspective), PERSPECTIVES) or (
                f" Use one of: {', '.join(PERSPECTIVES)}."
            )
            raise ModelError(
                f"{file}: variables.{name}.perspective: unknown perspective {perspective!r}.{hint}"
            )
        found[str(name)] = str(perspective)
    return found
