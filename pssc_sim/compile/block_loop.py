"""The fixed-step loop over blocks of members: the numba back end's ensembles.

The loop of :mod:`pssc_sim.compile.loop` runs one member at a time and writes each member's
saved values apart from its neighbours' (the output is time x variable x member): past a few
hundred members numpy's kernels over chunks of members are faster. Here the same loop steps a
block of members together. Every stock, parameter, discrete state and auxiliary is a row over
the block's members, every few equations (:data:`GROUP`) a loop over them (which LLVM turns
into SIMD code where the equations are plain arithmetic), and the saved values of a block are
written side by side.

The block module is the member loop's module (its lookups, helpers and kernels) with three
functions more, written from the member kernels by a rewrite of their syntax tree: the
statements of ``rates`` and ``full`` go into loops over the members ``b`` of the block, a value
loaded from ``y``, ``p`` or ``d`` reads its row at ``b``, a local becomes a row of the scratch
array ``w``, and ``dy``, ``dn`` and ``out`` are written at ``b``. Nothing else changes: every
member goes through the same operations in the same order as in the member loop, so both give
the same values (and a random draw, a function of the member's own seed and index, the same
bits whatever the blocks). The module defines, besides the member loop's functions,

``rates_block(t, dt, t0, t1, y, p, d, dy, dn, w, nb)``
    the stock rates and discrete updates of the first ``nb`` members (columns) of the block;
``full_block(t, dt, t0, t1, y, p, d, dy, dn, w, nb, out, row, first, check)``
    the same, and the outputs into ``out[row, :, first:first + nb]``, adding ``x - x`` of each
    saved value ``x`` of member ``b`` to ``check[b]`` (0 while every value is finite, NaN
    after an infinite or NaN value);
``run_block(times, widths, saved, clock, q, y0, d0, lengths, a, c, weights, runs, denominator,
out, first, block)``
    every step of every member (column ``m`` of ``q``, ``y0`` and ``d0``), ``block`` members
    at a time, saving member ``m`` into ``out[:, :, first + m]``: the member loop's ``run``
    (see :mod:`pssc_sim.compile.loop`) over whole runs. It returns whether every saved value
    is finite, which spares the caller a pass over the outputs.
"""

from __future__ import annotations

import ast
import functools
import sys
import types
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from pssc_sim.compile.cache import cache_key, numba_version, store
from pssc_sim.compile.layout import Layout
from pssc_sim.compile.loop import DECORATOR, OUT_ROW, load_loop, loop_jit, unsupported_reason
from pssc_sim.ir.model import Model

__all__ = [
    "BLOCK_ARGUMENTS",
    "BlockFunction",
    "CompiledBlockLoop",
    "block_key",
    "block_size",
    "compile_block_loop",
    "generate_block_source",
]

#: The arguments of the generated ``run_block`` (see the module docstring).
BLOCK_ARGUMENTS = (
    "times, widths, saved, clock, q, y0, d0, lengths, a, c, weights, runs, denominator, "
    "out, first, block"
)
#: Bytes of the rows a block steps through (stocks, stages, locals): their members stay in
#: the core's own caches. Measured with ``benchmarks/bench_backends.py``.
BLOCK_BYTES = 1 << 17
#: Members of a block, at least and at most: below 16, SIMD code has little to work on.
SMALLEST_BLOCK = 16
LARGEST_BLOCK = 256
#: Statements of a kernel in one loop over the block's members: LLVM vectorises a short loop
#: of arithmetic, and its time to compile grows with the number of loops (one a statement took
#: minutes for the 301-variable ring).
GROUP = 8
#: The arrays the member kernels load their values from, one row each.
_STATE = ("y", "p", "d")
#: The arrays the member kernels write, one row each (``out`` takes ``row, j, m``).
_WRITTEN = ("dy", "dn")
#: The clock's names, one value for every member.
_CLOCK = frozenset({"t", "dt", "t0", "t1"})


def generate_block_source(model: Model, loop_source: str) -> str:
    """The block module of ``model`` from the source of its member loop (see the module
    docstring)."""
    tree = ast.parse(loop_source)
    kernels = {
        node.name: node
        for node in tree.body
        if isinstance(node, ast.FunctionDef) and node.name in ("rates", "full")
    }
    rows: dict[str, int] = {}
    parts = [
        loop_source,
        _block_kernel(kernels["rates"], rows),
        _block_kernel(kernels["full"], rows),
        _run_block(model, len(rows)),
    ]
    return "\n".join(parts)


def block_size(loop_source: str, n_stocks: int) -> int:
    """Members a block of the model whose member loop is ``loop_source`` steps together:
    about :data:`BLOCK_BYTES` of rows (the stocks' values, trial values, totals and the stages
    of a four-stage method, and the scratch rows of the locals), a multiple of 8 between
    :data:`SMALLEST_BLOCK` and :data:`LARGEST_BLOCK`."""
    tree = ast.parse(loop_source)
    locals_ = {
        node.id
        for function in tree.body
        if isinstance(function, ast.FunctionDef) and function.name == "full"
        for node in ast.walk(function)
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store)
    }
    rows = len(locals_) + n_stocks * 7
    size = BLOCK_BYTES // (8 * max(1, rows)) // 8 * 8
    return max(SMALLEST_BLOCK, min(LARGEST_BLOCK, size))


class _Rewrite(ast.NodeTransformer):
    """Names of one member kernel's statement read as rows at the member ``b``."""

    def __init__(self, aliases: dict[str, ast.expr], rows: dict[str, int]) -> None:
        self.aliases = aliases
        self.rows = rows

    def visit_Name(self, node: ast.Name) -> ast.expr:
        if node.id in self.aliases and isinstance(node.ctx, ast.Load):
            return _copy(self.aliases[node.id])
        if node.id in self.rows:
            return _at("w", ast.Constant(self.rows[node.id]), node.ctx)
        return node


def _block_kernel(function: ast.FunctionDef, rows: dict[str, int]) -> str:
    """``rates_block`` or ``full_block`` from the member kernel ``function``: each statement a
    loop over the block's members. ``rows`` numbers the scratch rows of the locals (shared by
    both kernels, whose locals are the same values)."""
    aliases: dict[str, ast.expr] = {}
    constants: list[str] = []
    body: list[str] = []
    rewrite = _Rewrite(aliases, rows)
    for statement in function.body:
        if isinstance(statement, ast.Pass):
            continue
        if not isinstance(statement, ast.Assign) or len(statement.targets) != 1:
            raise AssertionError(f"a member kernel holds {ast.unparse(statement)}")
        target, value = statement.targets[0], statement.value
        if isinstance(target, ast.Name) and target.id == OUT_ROW:
            continue  # the member's row of ``out``: written at ``first + b`` below
        if isinstance(target, ast.Name) and _is_load(value):
            assert isinstance(value, ast.Subscript)
            aliases[target.id] = _at(ast.unparse(value.value), value.slice, ast.Load())
            continue
        if isinstance(target, ast.Name) and isinstance(value, ast.Constant):
            constants.append(ast.unparse(statement))  # one for every member (Vensim's slack)
            continue
        if isinstance(target, ast.Name):
            rows.setdefault(target.id, len(rows))
        else:
            target = _written(target)
        assign = ast.Assign(targets=[rewrite.visit(target)], value=rewrite.visit(value))
        body.append(ast.unparse(ast.fix_missing_locations(assign)))
        if isinstance(target, ast.Subscript) and ast.unparse(target.value) == "out":
            # x - x is 0 for a finite x, NaN for inf and NaN: the sum says whether every
            # saved value of the member is finite, with no pass over the outputs afterwards
            saved = ast.unparse(target)
            body.append(f"check[b] = check[b] + ({saved} - {saved})")
    loops = [
        line
        for first in range(0, len(body), GROUP)
        for line in ["for b in range(nb):", *(f"    {s}" for s in body[first : first + GROUP])]
    ]
    name = f"{function.name}_block"
    arguments = "t, dt, t0, t1, y, p, d, dy, dn, w, nb"
    if function.name == "full":
        arguments += ", out, row, first, check"
    return f"{DECORATOR}\ndef {name}({arguments}):\n" + "".join(
        f"    {line}\n" for line in [*constants, *loops] or ["pass"]
    )


def _is_load(value: ast.expr) -> bool:
    """Whether ``value`` is a row of the state: ``y[3]``, ``p[0]``, ``d[1]``."""
    return (
        isinstance(value, ast.Subscript)
        and isinstance(value.value, ast.Name)
        and value.value.id in _STATE
        and isinstance(value.slice, ast.Constant)
    )


def _written(target: ast.expr) -> ast.expr:
    """``dy[i]``, ``dn[i]`` at the member ``b``; ``out_row[j]`` (the member's row of ``out``)
    at ``out[row, j, first + b]``."""
    assert isinstance(target, ast.Subscript)
    assert isinstance(target.value, ast.Name)
    array = target.value.id
    if array in _WRITTEN:
        return _at(array, target.slice, ast.Store())
    assert array == OUT_ROW
    member = ast.BinOp(ast.Name("first", ast.Load()), ast.Add(), ast.Name("b", ast.Load()))
    index = ast.Tuple([ast.Name("row", ast.Load()), _copy(target.slice), member], ast.Load())
    return ast.Subscript(ast.Name("out", ast.Load()), index, ast.Store())


def _at(array: str, index: ast.expr, context: ast.expr_context) -> ast.Subscript:
    """``array[index, b]``."""
    pair = ast.Tuple([_copy(index), ast.Name("b", ast.Load())], ast.Load())
    return ast.Subscript(ast.Name(array, ast.Load()), pair, context)


def _copy(node: ast.expr) -> ast.expr:
    """A new tree of ``node`` (a tree node is in one place of a tree only)."""
    return ast.parse(ast.unparse(node), mode="eval").body


def _run_block(model: Model, n_rows: int) -> str:
    """``run_block``: the member loop's ``run`` (see :meth:`pssc_sim.compile.loop._Loop.run`)
    with an inner loop over the block's members wherever it works on a member's rows."""
    layout = Layout.of(model)
    fixed = list(layout.fixed_delay_rows())
    n_discrete = max((b.stop for b in layout.discrete.values()), default=0)
    memories = [i for i in range(n_discrete) if i not in fixed]
    members = "for b in range(nb):"
    stocks = "for i in range(n_stocks):"
    lines = [
        "dt = clock[0]",
        "t0 = clock[1]",
        "t1 = clock[2]",
        "n_steps = times.shape[0]",
        "n_stages = c.shape[0]",
        "n_members = q.shape[1]",
        "n_parameters = q.shape[0]",
        "n_stocks = y0.shape[0]",
        "n_discrete = d0.shape[0]",
        "y = np.empty((n_stocks, block))",
        "trial = np.empty((n_stocks, block))",
        "total = np.empty((n_stocks, block))",
        "stages = np.empty((n_stages, n_stocks, block))",
        "d = np.empty((n_discrete, block))",
        "dn = np.empty((n_discrete, block))",
        "spare = np.empty((n_discrete, block))",
        "p = np.empty((n_parameters, block))",
        f"w = np.empty(({max(1, n_rows)}, block))",
        f"ring = np.empty(({max(1, len(fixed))}, lengths.max() if lengths.size else 1, block))",
        "check = np.zeros(block)",
        "finite = True",
        "for start in range(0, n_members, block):",
        "    nb = min(block, n_members - start)",
        f"    {members}",
        "        check[b] = 0.0",
        "    for i in range(n_parameters):",
        f"        {members}",
        "            p[i, b] = q[i, start + b]",
        f"    {stocks}",
        f"        {members}",
        "            y[i, b] = y0[i, start + b]",
        "    for i in range(n_discrete):",
        f"        {members}",
        "            d[i, b] = d0[i, start + b]",
    ]
    for j, i in enumerate(fixed):
        lines += [
            f"    {members}",
            f"        for s in range(lengths[{j}, start + b]):",
            f"            ring[{j}, s, b] = d[{i}, b]",
        ]
    lines += [
        "    row = 0",
        "    for k in range(n_steps):",
        "        t = times[k]",
        "        h = widths[k]",
        "        begin = 0",
        "        if saved[k]:",
        "            full_block(t, dt, t0, t1, y, p, d, stages[0], dn, w, nb, out, row,"
        " first + start, check)",
        "            row += 1",
        "            begin = 1",
        "        for s in range(begin, n_stages):",
        "            started = False",
        "            for j in range(s):",
        "                if a[s, j] != 0.0:",
        "                    coefficient = h * a[s, j]",
        "                    if started:",
        f"                        {stocks}",
        f"                            {members}",
        "                                trial[i, b] = trial[i, b] + stages[j, i, b] * coefficient",
        "                    else:",
        f"                        {stocks}",
        f"                            {members}",
        "                                trial[i, b] = stages[j, i, b] * coefficient",
        "                        started = True",
        f"            {stocks}",
        f"                {members}",
        "                    trial[i, b] = trial[i, b] + y[i, b] if started else y[i, b]",
        "            rates_block(t + c[s] * h, dt, t0, t1, trial, p, d, stages[s],"
        " dn if s == 0 else spare, w, nb)",
        "        for g in range(weights.shape[0]):",
        "            low = runs[g, 0]",
        "            high = runs[g, 1]",
        "            w_g = weights[g]",
        f"            {stocks}",
        f"                {members}",
        "                    if high - low == 1:",
        "                        value = stages[low, i, b] if w_g == 1.0 else"
        " stages[low, i, b] * w_g",
        "                    else:",
        "                        value = stages[low, i, b] + stages[low + 1, i, b]",
        "                        for j in range(low + 2, high):",
        "                            value = value + stages[j, i, b]",
        "                        if w_g != 1.0:",
        "                            value = value * w_g",
        "                    total[i, b] = value if g == 0 else total[i, b] + value",
        "        scale = h / denominator",
        f"        {stocks}",
        f"            {members}",
        "                y[i, b] = y[i, b] + total[i, b] * scale",
    ]
    for i in model.non_negative_rows():
        lines += [
            f"        {members}",
            f"            if y[{i}, b] < 0.0:",
            f"                y[{i}, b] = 0.0",
        ]
    for i in memories:
        lines += [f"        {members}", f"            d[{i}, b] = dn[{i}, b]"]
    for j, i in enumerate(fixed):
        lines += [
            f"        {members}",
            f"            n = lengths[{j}, start + b]",
            f"            ring[{j}, k % n, b] = dn[{i}, b]",
            f"            d[{i}, b] = ring[{j}, (k + 1) % n, b]",
        ]
    lines += [
        "    full_block(t1, dt, t0, t1, y, p, d, stages[0], dn, w, nb, out, row, first + start,"
        " check)",
        f"    {members}",
        "        if check[b] != 0.0:",
        "            finite = False",
        "return finite",
    ]
    return f"{DECORATOR}\ndef run_block({BLOCK_ARGUMENTS}):\n" + "".join(
        f"    {line}\n" for line in lines
    )


#: Runs every member in blocks: ``run_block(times, widths, saved, clock, q, y0, d0, lengths, a,
#: c, weights, runs, denominator, out, first, block)``, whether every saved value is finite
#: (see the module docstring).
BlockFunction = Callable[..., bool]


@dataclass(frozen=True, slots=True)
class CompiledBlockLoop:
    """The compiled block loop of a model (``run`` is ``run_block``), or why there is none
    (``run`` is then ``None``); ``size`` is the members of a block (:func:`block_size`)."""

    run: BlockFunction | None
    size: int = SMALLEST_BLOCK
    reason: str = ""


def block_key(loop_key: str) -> str:
    """The cache key of the block module of a model whose member loop's key is ``loop_key``
    (``""``: no loop)."""
    if not loop_key:
        return ""
    return cache_key(loop_key, _generator_digest())


@functools.cache
def _generator_digest() -> str:
    import hashlib  # loads OpenSSL: only where a compiled loop is looked for

    return hashlib.sha256(Path(__file__).read_bytes()).hexdigest()


def compile_block_loop(model: Model, loop_source: Callable[[], str], key: str) -> CompiledBlockLoop:
    """The block loop of ``model`` compiled by numba (from the cache folder when it is there);
    ``loop_source()`` gives the source of its member loop, ``key`` is :func:`block_key`."""
    if numba_version() is None:
        return CompiledBlockLoop(None, reason="numba is not installed")
    reason = unsupported_reason(model)
    if reason:
        return CompiledBlockLoop(None, reason=reason)
    member_source = loop_source()
    source = generate_block_source(model, member_source)
    path = store(source, key)
    jit = loop_jit(cache=path is not None)
    name = f"_pssc_sim_kernel_{key}"
    space = load_loop(source, jit, name, None if path is None else str(path))
    module = types.ModuleType(name)  # numba's cache imports the module by name, as loop.py's
    module.__dict__.update(space)
    sys.modules.setdefault(name, module)
    size = block_size(member_source, len(model.stock_names))
    # load_loop types every function as the member loop's; run_block returns its flag
    return CompiledBlockLoop(cast(BlockFunction, space["run_block"]), size)
