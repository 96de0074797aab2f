"""Shaping the lines of a generated kernel: rows written in place, bound runs, freed locals.

A step of a small ensemble is a few dozen numpy calls of about a microsecond each, so each call,
copy and temporary taken out of a step counts (``benchmarks/bench_scenario_ensemble.py``). These
functions work on the printed lines of one kernel: they choose the array rows that values are
computed straight into, bind a kernel to the arrays of a run (:func:`bound`), and delete locals
after their last use (:func:`release`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import sympy

from pssc_sim.compile.printer import GROUP, Dialect, Printer

#: The locals a kernel binds: model variables (``v_``), shared sub-expressions (``c_``) and
#: hoisted rows of the parameters (``q_``).
LOCAL = re.compile(r"\b[vcq]_\w+")
#: Reads of the clock in generated code (every other name there is ``v_``, ``c_``, ``np`` or
#: an array: ``y``, ``p``, ``d``, ``dy``, ``dn``, ``out``).
CLOCK = re.compile(r"\b(dt|t0|t1)\b")
#: Reads of the switching tolerance (``SWITCH_SLACK``): the clock's optional fourth entry, 1
#: (Vensim's tolerances) when the clock has three.
SLACK = re.compile(r"\bslack\b")
SLACK_BINDING = "slack = clock[3] if len(clock) > 3 else 1.0"
TIME = re.compile(r"\bt\b")
#: The number of members, read by code on variables with dimensions.
MEMBERS = re.compile(r"\bM\b")


def local_name(name: str) -> str:
    """The local variable that holds the value of the model variable ``name``."""
    return f"v_{name}"


def function(name: str, args: str, lines: list[str], dialect: Dialect = Dialect.SCALAR) -> str:
    """``def name(args)`` with ``lines``, binding the clock and ``M`` only when they are read."""
    # The clock is bound only when the body reads it: a few hundred nanoseconds a call, which
    # counts in a step of a small model.
    text = "\n".join(lines)
    clock = ["dt, t0, t1 = clock[:3]"] if CLOCK.search(text) else []
    if dialect is Dialect.NUMPY:
        # numpy floats: arithmetic on the clock alone gives inf or nan, as on arrays, where
        # Python floats would raise (e.g. in the branch of an IF_THEN_ELSE that is not taken).
        clock = ["dt, t0, t1 = map(np.float64, clock[:3])"] if clock else []
        clock += ["t = np.float64(t)"] if args.startswith("t,") and TIME.search(text) else []
    if SLACK.search(text):
        clock.append(SLACK_BINDING)
    if MEMBERS.search(text):
        clock.append(f"M = {'y' if ' y,' in f' {args}' else 'p'}.shape[1]")
    body = [*clock, *lines] if "clock" in args else lines
    return f"def {name}({args}):\n" + "".join(f"    {line}\n" for line in body or ["pass"])


def flow_rows(
    rates: Sequence[sympy.Expr], order: Sequence[str], targets: Sequence[str | None]
) -> dict[str, str]:
    """Flows computed straight into the row of ``dy`` of a stock whose only flow they are.

    ``d(stock)/dt = flow`` would otherwise be the flow in a temporary, then a copy into ``dy``.
    ``targets[i]`` is the code of stock ``i``'s rows, or ``None`` where the flow cannot be
    written there (its shape differs).
    """
    rows: dict[str, str] = {}
    computed = set(order)
    for rate, target in zip(rates, targets, strict=True):
        if isinstance(rate, sympy.Symbol) and rate.name in computed and target is not None:
            rows.setdefault(local_name(rate.name), target)
    return rows


def output_rows(
    names: Sequence[str | None], order: Sequence[str], targets: Sequence[str], rows: dict[str, str]
) -> dict[str, str]:
    """``rows`` and the recorded auxiliaries and flows computed straight into their output row.

    ``names[i]`` is the variable output ``i`` records whole, or ``None``.
    """
    computed = set(order)
    chosen = dict(rows)
    for name, target in zip(names, targets, strict=True):
        if name in computed and local_name(name) not in chosen:
            chosen[local_name(name)] = target
    return chosen


def rate_line(printer: Printer, target: str, rate: sympy.Expr, text: str, whole: str) -> str:
    """``target = rate``, computed into the rows (the positional output) when it is a sum of
    flows; ``whole`` is the assignment of ``text`` to the whole target.

    The operations and their order are those of the printed sum (see ``Printer.add``), so the
    values are the same; only the temporaries go.
    """
    if len(rate.args) > GROUP:  # printed in groups (see printer.GROUP)
        return whole
    terms = list(rate.as_ordered_terms()) if isinstance(rate, sympy.Add) else [rate]
    signs, names = [], []
    for term in terms:
        coefficient, rest = term.as_coeff_Mul()
        if coefficient not in (1, -1) or not isinstance(rest, sympy.Symbol):
            return whole
        signs.append(coefficient == 1)
        names.append(printer(rest))
    if len(terms) == 1:
        return whole if signs[0] else f"np.negative({names[0]}, {target})"
    if not signs[0] and signs[1]:  # as the printer does: (-a) + b is b - a
        signs[:2], names[:2] = signs[1::-1], names[1::-1]
    lines = [f"np.negative({names[0]}, {target})" if not signs[0] else None]
    total = names[0] if signs[0] else target
    for positive, name in zip(signs[1:], names[1:], strict=True):
        lines.append(f"np.{'add' if positive else 'subtract'}({total}, {name}, {target})")
        total = target
    return "; ".join(line for line in lines if line)


def stock_copies(
    stocks: Sequence[tuple[int, int] | None], rows: Sequence[tuple[int, int]]
) -> tuple[list[str], set[int]]:
    """Recorded stocks copied a run at a time (``out[a:b] = y[c:d]``), and the outputs copied.

    ``stocks[i]`` is the rows ``(start, stop)`` of ``y`` that output ``i`` records whole, or
    ``None``; ``rows[i]`` its rows of ``out``. A run is stock rows recorded in consecutive
    rows of ``out``: one copy for the run instead of one per stock. A single row is left to
    ``out[i] = v_stock``.
    """
    runs: list[list[int]] = []  # first output row, first stock row, length; outputs
    members: list[list[int]] = []
    for i, (stock, (row, stop)) in enumerate(zip(stocks, rows, strict=True)):
        if stock is None:
            continue
        if runs and runs[-1][0] + runs[-1][2] == row and runs[-1][1] + runs[-1][2] == stock[0]:
            runs[-1][2] += stop - row
            members[-1].append(i)
        else:
            runs.append([row, stock[0], stop - row])
            members.append([i])
    kept = [(run, outputs) for run, outputs in zip(runs, members, strict=True) if run[2] > 1]
    lines = [f"out[{a}:{a + n}] = y[{b}:{b + n}]" for (a, b, n), _ in kept]
    return lines, {i for _, outputs in kept for i in outputs}


def release(lines: list[str], keep: set[str] | frozenset[str] = frozenset()) -> list[str]:
    """``lines`` with each array local (but those in ``keep``) deleted after its last use.

    Freed temporaries are reused by the next allocations while still in cache, instead of every
    step of a large chunk touching fresh memory.
    """
    last = {
        name: i for i, line in enumerate(lines) for name in LOCAL.findall(line) if name not in keep
    }
    dead: dict[int, list[str]] = {}
    for name, i in last.items():
        dead.setdefault(i, []).append(name)
    released = []
    for i, line in enumerate(lines):
        released.append(line)
        if i in dead and i < len(lines) - 1:
            released.append(f"del {', '.join(sorted(dead[i]))}")
    return released


_ROW = re.compile(r"\b(dy|dn)\[(\d+)\]")
_ROW_ASSIGNMENT = re.compile(r"^(dy|dn)\[(\d+)\] =")
_VIEW = re.compile(r"\b(dy|dn)\[(\d+):(\d+)\]\.reshape\(([\d, ]+), M\)")
_STOCK_RUN = re.compile(r"\by\[(\d+):(\d+)\]")


def bound(name: str, loads: list[str], lines: list[str], inner_call: str = "rates(t)") -> str:
    """``name(clock, y, p, d, dy, dn)``: the kernel bound to these arrays, as ``inner_call``.

    The arrays are updated in place from step to step, so their rows, views and runs of stocks
    are taken, and the clock converted, once per run instead of at every step. ``inner_call`` is
    ``rates(t)``, or ``full(t, out)`` for the kernel that also records the outputs into ``out``.
    """
    text = "\n".join(lines)
    views = sorted(set(_VIEW.findall(text)))
    runs = sorted(set(_STOCK_RUN.findall(_VIEW.sub("", text))))
    rows = sorted(set(_ROW.findall(text)), key=lambda row: (row[0] == "dn", int(row[1])))
    lines, n_scratch = scratch_rows(lines)
    outer = [
        *loads,
        *(f"{a}_{i} = {a}[{i}]" for a, i in rows),
        *(f"{a}_{b}_{c} = {a}[{b}:{c}].reshape({s}, M)" for a, b, c, s in views),
        *(f"y_{a}_{b} = y[{a}:{b}]" for a, b in runs),
    ]
    if n_scratch:
        outer += [
            f"scratch = np.empty(({n_scratch}, y.shape[1]))",
            *(f"s_{i} = scratch[{i}]" for i in range(n_scratch)),
        ]
    # a row assigned as a whole is written in place: ``dy_0[...] = x``, not a new ``dy_0``
    inner = [
        _STOCK_RUN.sub(
            r"y_\1_\2",
            _ROW.sub(r"\1_\2", _ROW_ASSIGNMENT.sub(r"\1_\2[...] =", _VIEW.sub(r"\1_\2_\3", line))),
        )
        for line in lines
    ]
    text = "\n".join(inner)
    if CLOCK.search(text):
        outer.insert(0, "dt, t0, t1 = map(np.float64, clock[:3])")
    if SLACK.search(text):
        outer.insert(0, SLACK_BINDING)
    if MEMBERS.search("\n".join([*outer, text])):
        outer.insert(0, "M = y.shape[1]")
    if TIME.search(text):
        inner.insert(0, "t = np.float64(t)")
    bound_names = {n for line in outer for n in LOCAL.findall(line.split("=")[0])}
    body = release(inner, keep=bound_names) or ["pass"]
    return (
        f"def {name}(clock, y, p, d, dy, dn):\n"
        + "".join(f"    {line}\n" for line in outer)
        + f"    def {inner_call}:\n"
        + "".join(f"        {line}\n" for line in body)
        + f"    return {inner_call.split('(')[0]}\n"
    )


_SCRATCH = re.compile(r"^(v_\w+) = s_(v_\w+)$")
_ASSIGNMENT = re.compile(r"^([vc]_\w+) = (.*)$")


def scratch_rows(lines: list[str]) -> tuple[list[str], int]:
    """``lines`` with each ``v_x = s_v_x`` bound to a numbered scratch row, and the row count.

    A row is taken where its local is defined and given back after the last line that reads
    the local or a local that may hold the same array (``v_y = v_x``, or a selection of it
    with a Python conditional), so a few rows serve every step, in cache, and no two live
    locals share one. A row is taken before the rows that its own line frees are given back:
    a chain of operations into it never overwrites one of its inputs.
    """
    holds: dict[str, set[str]] = {}  # local -> the scratch locals whose rows it may hold
    last: dict[str, int] = {}
    for i, line in enumerate(lines):
        scratch, assignment = _SCRATCH.match(line), _ASSIGNMENT.match(line)
        if scratch:
            holds[scratch.group(1)] = {scratch.group(2)}
        elif assignment:
            held = [holds[n] for n in LOCAL.findall(assignment.group(2)) if n in holds]
            if held:
                holds[assignment.group(1)] = set().union(*held)
        for name in LOCAL.findall(line):
            for owner in holds.get(name, ()):
                last[owner] = i
    ends: dict[int, list[str]] = {}
    for owner, i in last.items():
        ends.setdefault(i, []).append(owner)
    free: list[int] = []
    slots: dict[str, int] = {}
    count = 0
    result = []
    for i, line in enumerate(lines):
        match = _SCRATCH.match(line)
        if match:
            if not free:
                free, count = [count], count + 1
            slots[match.group(2)] = free.pop()
            line = f"{match.group(1)} = s_{slots[match.group(2)]}"
        result.append(line)
        free += sorted((slots[owner] for owner in ends.get(i, ())), reverse=True)
    return result, count
