"""The one YAML reader of model, diagram, scenario and fragment files.

YAML from a stranger is read safely and within bounds, before any Python object is built:

- tags that would construct Python objects are refused (PyYAML's safe constructor);
- nesting deeper than :data:`MAX_DEPTH` is refused while the document is composed (the composer
  recurses once per level);
- aliases are counted each time they are referenced, on the composed node graph: a document that
  expands by more than :data:`MAX_ALIAS_NODES` nodes through them (a "billion laughs" file of a
  few hundred bytes expands to billions) is refused, as is an alias inside its own anchor;
- a key given twice in one mapping is refused, naming both lines;
- a value that the safe constructor cannot build (a date such as 2001-13-45, an integer of
  thousands of digits) is reported where it is.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, SequenceNode

from pssc_sim.errors import ModelError, clipped, shown

#: Deepest nesting of mappings and sequences a document may have (model files need about five).
MAX_DEPTH = 100
#: Most nodes that aliases may add to a document when expanded.
MAX_ALIAS_NODES = 100_000

_MERGE_TAG = "tag:yaml.org,2002:merge"


class _Refused(yaml.YAMLError):
    """A document refused by a bound; ``message`` is the whole text after ``file: ``."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class _BoundedLoader(yaml.SafeLoader):
    """PyYAML's safe loader with a depth bound while composing and no duplicate keys."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.depth = 0

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
                raise _Refused(
                    f"line {mark.line + 1}, column {mark.column + 1}: the document is "
                    f"too deeply nested (limit {MAX_DEPTH}, got {self.depth} levels "
                    "there). Flatten it: model and scenario files need only a few "
                    "levels"
                )
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def construct_object(self, node: Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except (ValueError, TypeError, OverflowError) as exc:
            mark = node.start_mark
            raise _Refused(
                f"line {mark.line + 1}, column {mark.column + 1}: cannot read the "
                f"value {shown(node.value)} ({clipped(str(exc))}). Quote it to keep "
                "it as text, or correct it"
            ) from None

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        _refuse_duplicate_keys(self, node)
        return super().construct_mapping(node, deep)


def _refuse_duplicate_keys(loader: _BoundedLoader, node: MappingNode) -> None:
    first: dict[Any, int] = {}
    for key_node, _ in node.value:
        if key_node.tag == _MERGE_TAG or not isinstance(key_node.value, str):
            continue  # merged keys may be overridden; collections as keys are refused later
        key = loader.construct_object(key_node)
        line = key_node.start_mark.line + 1
        try:
            seen = first.get(key)
        except TypeError:  # unhashable: the safe constructor refuses it
            continue
        if seen is not None:
            raise _Refused(
                f"line {line}: duplicate key {shown(key)} (first at line {seen}). "
                "Keep one of the two entries"
            )
        first[key] = line


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [child for pair in node.value for child in pair]
    return []


def check_graph(root: Node) -> None:
    """Refuse a composed document that aliases expand beyond the bounds, or that refers to
    itself.

    Each node's expanded size and depth are computed once (memoised by identity) in an iterative
    post-order walk, so the check costs one visit per distinct node however large the expansion.
    """
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    open_nodes: set[int] = set()
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            children = _children(node)
            size[key] = 1 + sum(size[id(c)] for c in children)
            depth[key] = 1 + max((depth[id(c)] for c in children), default=0)
            open_nodes.discard(key)
            continue
        if key in size:
            continue
        if key in open_nodes:
            raise _Refused(
                f"line {node.start_mark.line + 1}: an alias refers to a node that "
                "holds it, so the document never ends (got a cycle). Remove the alias"
            )
        open_nodes.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in _children(node) if id(child) not in size)
    written = len(size)
    if size[id(root)] - written > MAX_ALIAS_NODES:
        raise _Refused(
            f"the document expands to more than {MAX_ALIAS_NODES} nodes through "
            f"aliases (got {size[id(root)]} from {written} written). Write the "
            "repeated parts out, or use fewer aliases (*name)"
        )
    if depth[id(root)] > MAX_DEPTH:
        raise _Refused(
            f"the document is too deeply nested through aliases (limit {MAX_DEPTH}, "
            f"got {depth[id(root)]} levels). Use fewer nested aliases (*name)"
        )


def parse_yaml(text: str) -> Any:
    """The document in ``text``, read within the bounds above; raises :class:`yaml.YAMLError`
    (a refusal's message is its ``message``)."""
    loader = _BoundedLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        check_graph(node)
        return loader.construct_document(node)
    finally:
        loader.dispose()


def load_yaml(
    text: str, file: str, *, error: type[ModelError] = ModelError, no_code: str | None = None
) -> Any:
    """Read the YAML document ``text`` of ``file`` safely and within bounds.

    ``error`` is the exception raised (a :class:`ModelError`); with ``no_code`` a tag that would
    build an object gets a message of its own ending with that fix, otherwise it is reported as
    invalid YAML.

    Examples
    --------
    >>> load_yaml("stocks: {x: 1}", "m.yaml")
    {'stocks': {'x': 1}}
    >>> load_yaml("a: 1\\nb: 2\\na: 3", "m.yaml")
    Traceback (most recent call last):
    ...
    pssc_sim.errors.ModelError: m.yaml: line 3: duplicate key 'a' (first at line 1). Keep one \
of the two entries
    """
    try:
        return parse_yaml(text)
    except _Refused as exc:
        raise error(f"{file}: {exc.message}") from None
    except yaml.constructor.ConstructorError as exc:
        if no_code is None:
            raise error(_invalid_yaml(file, exc)) from None
        mark = exc.problem_mark
        place = f"line {mark.line + 1}" if mark else "unknown place"
        raise error(
            f"{file}: a YAML tag that builds objects at {place} (got "
            f"{clipped(str(exc.problem))}). {no_code}"
        ) from None
    except yaml.YAMLError as exc:
        raise error(_invalid_yaml(file, exc)) from None


def read_yaml(
    path: Path, *, error: type[ModelError] = ModelError, no_code: str | None = None
) -> Any:
    """Read the YAML file ``path`` as :func:`load_yaml` reads text."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"{path}: cannot read the file ({shown(str(exc))}). Check the path") from None
    return load_yaml(text, str(path), error=error, no_code=no_code)


def _invalid_yaml(file: str, exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    place = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown place"
    problem = getattr(exc, "problem", None) or "invalid YAML"
    if isinstance(exc, yaml.reader.ReaderError):
        place = f"character {exc.position + 1}"
        problem = (
            f"{exc.reason}: #x{exc.character:04x}" if isinstance(exc.character, int) else exc.reason
        )
    return (
        f"{file}: invalid YAML at {place} ({clipped(str(problem))}). Fix the "
        "indentation or quoting there"
    )
