"""XMILE modules, flattened into one model before the translator reads the file.

An XMILE file may hold several ``<model>`` elements: the unnamed root model and named models
that other models instantiate as ``<module name="...">`` (XMILE 1.0, section 3.7: modules). A
module instance runs its model's variables under its own name, and its ``<connect to="input"
from="source"/>`` elements bind the module's inputs to variables of the model holding the
instance: ``from`` names a variable of that model (a leading period, ``.area``, names it from the
root, which is the same model for a module of the root), or ``other.out``, the variable ``out`` of
the sibling instance ``other``. Equations refer to a module's variables the same way
(``hares.density``).

Flattening gives the translator one model: each variable of an instance becomes a variable of
the root named ``instance.variable`` (``outer.inner.variable`` when nested), which is the name
Stella gives it in its results; every reference to a connected input is replaced by the variable
it is connected to, so an input adds no variable of its own; an input left unconnected keeps its
own equation. Names are matched as XMILE matches them: without regard to case, spaces or
underscores.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pssc_sim.errors import ModelError
from pssc_sim.parse.translate.names import name_key

_VARIABLES = ("aux", "stock", "flow", "gf")
#: The most module instances a file may make (nested modules multiply).
MAX_INSTANCES = 10_000
# One part of a name: quoted ("birth rate") or bare (birth_rate).
_PART = r'(?:"(?:\\.|[^"\\])*"|[^\W\d][\w\'$]*)'
# Comments, names (dotted: module.variable, each part quoted or bare), numbers, other characters.
_TOKEN = re.compile(
    r"(?P<comment>\{[^}]*\})"
    rf"|(?P<name>\.?{_PART}(?:\s*\.\s*{_PART})*)"
    r"|(?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)"
    r"|(?P<other>.)",
    re.DOTALL,
)


def local(tag: Any) -> str:
    """The tag of an XML element without its namespace."""
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def display_name(name: str) -> str:
    """A variable's name as the file shows it: XMILE writes line breaks in names as ``\\n``."""
    return " ".join(name.replace("\\n", " ").split())


@dataclass(slots=True)
class _Instance:
    """One instance of a model: the root (prefix ``""``) or a module, with its bindings."""

    model: Any  # the <model> element
    prefix: str  # "" for the root, "hares." for the module hares
    parent: _Instance | None
    variables: dict[str, Any] = field(default_factory=dict)  # name key -> element
    modules: dict[str, _Instance] = field(default_factory=dict)  # name key -> instance
    # name key of a connected input -> the instance holding the module, and the source's name
    inputs: dict[str, tuple[_Instance, str]] = field(default_factory=dict)

    def flat_name(self, element: Any) -> str:
        return self.prefix + display_name(str(element.get("name", "")))


class _Flattener:
    def __init__(self, source: Path, models: Mapping[str, Any]) -> None:
        self.source = source
        self.models = models  # name key -> <model name=...>
        self.instances = 0

    def where(self, instance: _Instance, name: str = "") -> str:
        path = instance.prefix.rstrip(".")
        inside = f" (in module '{path}')" if path else ""
        return f"{self.source}: {name}{inside}" if name else f"{self.source}{inside}"

    def instantiate(self, model: Any, prefix: str, parent: _Instance | None) -> _Instance:
        self.instances += 1
        if self.instances > MAX_INSTANCES:
            raise ModelError(
                f"{self.source}: the modules make more than {MAX_INSTANCES} instances (got "
                f"'{prefix.rstrip('.')}' and more). Instantiate fewer modules in each model"
            )
        instance = _Instance(model, prefix, parent)
        for element in _variable_elements(model):
            kind = local(element.tag)
            name = str(element.get("name", ""))
            if kind == "module":
                instance.modules[name_key(name)] = self.module(element, instance)
            elif kind in _VARIABLES:
                instance.variables[name_key(display_name(name))] = element
        return instance

    def module(self, element: Any, parent: _Instance) -> _Instance:
        name = display_name(str(element.get("name", "")))
        wanted = display_name(str(element.get("model") or name))
        model = self.models.get(name_key(wanted))
        if model is None:
            raise ModelError(
                f"{self.where(parent, name)}: unsupported construct 'module' of a model the "
                f'file does not hold (got no <model name="{wanted}">; the file has '
                f"{sorted(display_name(str(m.get('name'))) for m in self.models.values())}). "
                "Save the model with its modules in one file"
            )
        chain = [parent]
        while chain[-1].parent is not None:
            chain.append(chain[-1].parent)
        if any(c.model is model for c in chain):
            raise ModelError(
                f"{self.where(parent, name)}: a module instantiates the model that holds it "
                f"(got model '{wanted}'). A model cannot contain itself; remove the module"
            )
        return self.instantiate(model, f"{parent.prefix}{name}.", parent)

    def bind(self, instance: _Instance) -> None:
        """Record the connections of every module of ``instance``, at every depth."""
        for key, module in instance.modules.items():
            for connect in _module_element(instance.model, key):
                if local(connect.tag) in ("connect", "connect2"):
                    target = self.target(module, str(connect.get("to", "")))
                    module.inputs[name_key(target)] = (instance, str(connect.get("from", "")))
            self.bind(module)

    def check(self, instance: _Instance) -> None:
        """Raise unless every connection, at every depth, names a variable."""
        for module in instance.modules.values():
            for key, (holder, source) in module.inputs.items():
                if self.resolve(holder, source) is None:
                    target = display_name(str(module.variables[key].get("name", "")))
                    raise ModelError(
                        f"{self.where(holder, source)}: the connection to module input "
                        f"'{module.prefix}{target}' names no variable (got from=\"{source}\"). "
                        "Connect the input to a variable of the model that holds the module"
                    )
            self.check(module)

    def target(self, module: _Instance, to: str) -> str:
        name = display_name(to)
        own = display_name(module.prefix.rstrip(".").rsplit(".", 1)[-1])
        if name_key(name).startswith(name_key(own) + ".") and (
            name_key(name) not in module.variables
        ):
            name = name[len(own) + 1 :]  # Stella qualifies the input by its module's name
        if name_key(name) not in module.variables:
            raise ModelError(
                f"{self.where(module, name)}: a connection names no variable of the module "
                f'(got to="{to}"). Connect to one of the module\'s variables'
            )
        return name

    def resolve(
        self, instance: _Instance, name: str, seen: frozenset[str] = frozenset()
    ) -> str | None:
        """The flattened name of the variable ``name`` seen from ``instance``: a connected
        input is followed to its source, through as many modules as it passes."""
        text = display_name(name)
        if text.startswith("."):
            text = text[1:]
            found = self._resolve(instance, text, seen)
            root = instance
            while root.parent is not None:
                root = root.parent
            return found if found is not None else self._resolve(root, text, seen)
        return self._resolve(instance, text, seen)

    def _resolve(self, instance: _Instance, text: str, seen: frozenset[str]) -> str | None:
        key = name_key(text)
        if key in instance.inputs:
            where = instance.prefix + key
            if where in seen:
                raise ModelError(
                    f"{self.where(instance, text)}: the module connections form a loop (got "
                    f"{sorted(seen)}). Connect each input to a variable with an equation"
                )
            holder, source = instance.inputs[key]
            return self.resolve(holder, source, seen | {where})
        if key in instance.variables:
            return instance.flat_name(instance.variables[key])
        head, dot, rest = text.partition(".")
        module = instance.modules.get(name_key(head)) if dot else None
        if module is None:
            return None
        return self._resolve(module, rest.strip(), seen)

    def emit(self, instance: _Instance, into: Any) -> None:
        """Append the flattened variables of ``instance`` and its modules to ``into``."""
        for key, element in instance.variables.items():
            if instance.parent is not None and key in instance.inputs:
                continue  # a connected input: every reference reads its source instead
            flat = copy.deepcopy(element)
            self.rename(flat, instance)
            into.append(flat)
        for module in instance.modules.values():
            self.emit(module, into)

    def rename(self, element: Any, instance: _Instance) -> None:
        name = display_name(str(element.get("name", "")))
        element.set("name", instance.flat_name(element))
        for child in element.iter():
            kind = local(child.tag)
            if kind in ("eqn", "init_eqn") and child.text:
                child.text = self.equation(child.text, instance, name)
            elif kind in ("inflow", "outflow") and child.text:
                target = self.resolve(instance, child.text.strip())
                if target is not None:
                    child.text = _quoted(target)

    def equation(self, text: str, instance: _Instance, name: str) -> str:
        """``text`` with every name of ``instance`` replaced by its flattened, quoted name."""
        out: list[str] = []
        depth = 0  # inside [...], names are dimensions and elements: left as they are
        for match in _TOKEN.finditer(text):
            token = match.group()
            kind = match.lastgroup
            if kind == "other":
                depth += {"[": 1, "]": -1}.get(token, 0)
            if kind == "name" and depth == 0:
                called = text[match.end() :].lstrip().startswith("(")
                token = self.reference(token, instance, called) or token
            out.append(token)
        if instance.parent is not None and _is_placeholder(text):
            raise ModelError(
                f"{self.where(instance, name)}: a module input is not connected and has no "
                f"equation of its own (got {text.strip()!r}). Connect it in the module's "
                "<connect> elements, or give it an equation"
            )
        return "".join(out)

    def reference(self, token: str, instance: _Instance, called: bool) -> str | None:
        parts = [
            p[1:-1].replace('\\"', '"') if p.startswith('"') else p
            for p in re.findall(_PART, token)
        ]
        name = ("." if token.startswith(".") else "") + ".".join(parts)
        resolved = self.resolve(instance, name)
        if resolved is None:
            return None
        if called and not self.is_table(instance, name):
            return None  # a builtin sharing a variable's name
        return _quoted(resolved)

    def is_table(self, instance: _Instance, name: str) -> bool:
        element = instance.variables.get(name_key(display_name(name)))
        return element is not None and (
            local(element.tag) == "gf" or any(local(c.tag) == "gf" for c in element)
        )


def _quoted(name: str) -> str:
    """``name`` as a quoted XMILE name, which may hold periods and spaces."""
    return '"' + name.replace('"', '\\"') + '"'


def _variable_elements(model: Any) -> list[Any]:
    holders = [c for c in model if local(c.tag) == "variables"] or [model]
    return [c for holder in holders for c in holder if local(c.tag) in (*_VARIABLES, "module")]


def _module_element(model: Any, key: str) -> Any:
    return next(
        e
        for e in _variable_elements(model)
        if local(e.tag) == "module" and name_key(display_name(str(e.get("name", "")))) == key
    )


def _is_placeholder(text: str) -> bool:
    """An equation of nothing but a comment: Stella's ``{Enter equation ...}`` of an input."""
    return bool(re.fullmatch(r"\s*(\{[^}]*\}\s*)+", text))


def flatten_modules(tree: Any, source: Path) -> bool:
    """Flatten the modules of the XMILE document ``tree`` (an lxml tree) in place; return
    whether it held any. ``source`` names the file in error messages."""
    root_element = tree.getroot()
    models = [m for m in root_element if local(m.tag) == "model"]
    mains = [m for m in models if not m.get("name")]
    has_modules = any(local(e.tag) == "module" for m in models for e in _variable_elements(m))
    if not has_modules:
        return False
    if len(mains) != 1:
        raise ModelError(
            f"{source}: a file with modules needs one root model, a <model> without a name "
            f"(got {len(mains)}). Save the model from Stella again"
        )
    named = {name_key(display_name(str(m.get("name")))): m for m in models if m.get("name")}
    flattener = _Flattener(source, named)
    root = flattener.instantiate(mains[0], "", None)
    flattener.bind(root)
    flattener.check(root)
    main = mains[0]
    holders = [c for c in main if local(c.tag) == "variables"]
    variables = holders[0] if holders else main
    for child in list(variables):
        if local(child.tag) in (*_VARIABLES, "module"):
            variables.remove(child)
    flattener.emit(root, variables)
    for model in named.values():
        root_element.remove(model)
    return True
