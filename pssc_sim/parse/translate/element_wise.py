"""One element of an equation over subscript ranges, as an equation of its own.

An equation over ranges, ``ce[tNext] = ecc[tPrev] + 1``, holds for each element of its ranges
with the ranges on the right standing for the matching elements: the same element, or for a
range mapped onto the one on the left (``tNext: (t2-t3) -> tPrev``), the element in the same
place. Written element by element, ``ce[t2] = ecc[t1] + 1`` and ``ce[t3] = ecc[t2] + 1``, the
elements of two variables that read each other through subranges can be ordered one by one
instead of making a cycle of the two variables.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, cast

from pssc_sim.parse.translate.names import name_key

if TYPE_CHECKING:
    from pssc_sim.parse.translate.arrays import ArrayImport


class UnboundRangeError(Exception):
    """A range on the right of an equation that no subscript on its left fixes."""


def bound_equation(arrays: ArrayImport, ast: Any, left: Sequence[str], combo: Sequence[str]) -> Any:
    """``ast`` with each range in its subscripts replaced by the element that ``combo`` (one
    element for each subscript of ``left``) makes it stand for; ranges summed out (``!``) stay.
    Raises :class:`UnboundRangeError` for a range no subscript of ``left`` fixes."""

    def element(subscript: str) -> str:
        if subscript.endswith("!") or not arrays.is_range(subscript):
            return subscript
        return matching_element(arrays, name_key(subscript), left, combo)

    return _replace(ast, element, arrays)


def matching_element(
    arrays: ArrayImport, key: str, left: Sequence[str], combo: Sequence[str]
) -> str:
    """The element of range ``key`` that the elements ``combo`` of ``left`` stand for: the
    one of the same range, else the one in the same place of a range mapped onto it, else the
    same element when the range holds it."""
    places = [(name_key(p), e) for p, e in zip(left, combo, strict=True) if arrays.is_range(p)]
    for range_key, chosen in places:
        if range_key == key:
            return chosen
    for range_key, chosen in places:
        images = arrays.mapping_images(key, range_key)
        if images is not None and chosen in images:
            return arrays.flat[key][images.index(chosen)]
        images = arrays.mapping_images(range_key, key)
        if images is not None:
            return images[arrays.flat[range_key].index(chosen)]
    for _, chosen in places:
        if chosen in arrays.flat[key]:
            return chosen
    raise UnboundRangeError(key)


def is_bindable(arrays: ArrayImport, ast: Any, left: Sequence[str], combo: Sequence[str]) -> bool:
    """Whether every range on the right of ``ast`` stands for one element of ``combo``."""
    try:
        bound_equation(arrays, ast, left, combo)
    except UnboundRangeError:
        return False
    return True


def _replace(node: Any, element: Callable[[str], str], arrays: ArrayImport) -> Any:
    if isinstance(node, (list, tuple)):
        return type(node)(_replace(part, element, arrays) for part in node)
    if not dataclasses.is_dataclass(node) or isinstance(node, type):
        return node
    node = cast(Any, node)  # a structure of PySD's syntax tree
    kind = type(node).__name__
    if kind == "SubscriptsReferenceStructure":
        return dataclasses.replace(node, subscripts=[element(str(s)) for s in node.subscripts])
    if kind == "ReferenceStructure" and node.subscripts is None and arrays.is_range(node.reference):
        # a range used as a value: the element it stands for, read as its position
        return dataclasses.replace(node, reference=element(str(node.reference)))
    changes = {
        field.name: _replace(getattr(node, field.name), element, arrays)
        for field in dataclasses.fields(node)
        if field.init
    }
    return dataclasses.replace(node, **changes)
