"""Vensim subscripts: mappings that list the elements mapped to, and :EXCEPT: that leaves
elements out of a variable."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("pysd", reason="the vensim extra (PySD's translators) is not installed")

import pssc_sim as ps

CONTROL = "INITIAL TIME = 0 ~~|\nFINAL TIME = 1 ~~|\nTIME STEP = 1 ~~|\nSAVEPER = 1 ~~|\n"


def run(tmp_path: Path, text: str) -> dict[str, float]:
    path = tmp_path / "m.mdl"
    path.write_text("{UTF-8}\n" + text + CONTROL, encoding="utf-8")
    row = ps.simulate(ps.load_model(path)).to_frame().iloc[-1]
    return {str(k): float(v) for k, v in row.items()}


def test_a_mapping_to_a_list_of_elements_reorders_them(tmp_path: Path) -> None:
    row = run(
        tmp_path,
        "DimA: A1, A2, A3 -> (DimB: B3, B2, B1) ~~|\nDimB: B1, B2, B3 ~~|\n"
        "b[DimB] = 1, 2, 3 ~~|\na[DimA] = b[DimB] * 10 ~~|\nc[DimB] = a[DimA] ~~|\n",
    )
    # A1 stands for B3, A2 for B2, A3 for B1, read either way
    assert [row[f"a[A{i}]"] for i in (1, 2, 3)] == [30.0, 20.0, 10.0]
    assert [row[f"c[B{i}]"] for i in (1, 2, 3)] == [10.0, 20.0, 30.0]


def test_an_element_mapped_to_a_subrange_stands_for_each_of_its_elements(
    tmp_path: Path,
) -> None:
    row = run(
        tmp_path,
        "DimA: A1, A2, A3 ~~|\nSubA: A1, A2 ~~|\nDimB: B1, B2 -> (DimA: SubA, A3) ~~|\n"
        "b[DimB] = 1, 2 ~~|\na[DimA] = b[DimB] * 10 ~~|\n",
    )
    assert [row[f"a[A{i}]"] for i in (1, 2, 3)] == [10.0, 10.0, 20.0]
    assert sum(row[f"a[A{i}]"] for i in (1, 2, 3)) == pytest.approx(40.0)


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        (
            "(DimA: SubA)",
            r"m\.mdl: DimB: a mapping to DimA lists 1 item\(s\) for 2 element\(s\) \(got SubA\)",
        ),
        (
            "(DimA: SubA, A2)",
            r"m\.mdl: DimB: unsupported construct 'a subscript mapping to ranges that do not "
            r"cover DimA once' \(got SubA, A2\)",
        ),
        (
            "(DimA: SubA, C1)",
            r"m\.mdl: DimB: the mapping to DimA names 'C1', which is not in that range",
        ),
    ],
)
def test_a_mapping_list_that_does_not_fit_is_refused(
    tmp_path: Path, mapping: str, message: str
) -> None:
    text = (
        "DimA: A1, A2, A3 ~~|\nSubA: A1, A2 ~~|\nDimC: C1, C2 ~~|\n"
        f"DimB: B1, B2 -> {mapping} ~~|\nb[DimB] = 1, 2 ~~|\na[DimA] = b[DimB] ~~|\n"
    )
    with pytest.raises(ps.ModelError, match=message):
        run(tmp_path, text)


def test_elements_an_except_leaves_out_are_not_part_of_the_variable(tmp_path: Path) -> None:
    path = tmp_path / "m.mdl"
    text = "DimA: A1, A2, A3 ~~|\ng[DimA] :EXCEPT: [A1] = 7 ~~|\nh = g[A2] + g[A3] ~~|\n"
    path.write_text(text + CONTROL, encoding="utf-8")
    model = ps.load_model(path)
    assert model.parameter_names == ("g[A2]", "g[A3]")
    assert float(ps.simulate(model).to_frame()["h"].iloc[-1]) == 14.0


def test_elements_that_depend_on_another_variable_in_turn_are_ordered(tmp_path: Path) -> None:
    # a[A1] from x, y from a[A1], a[A2] from y: no element depends on itself
    row = run(
        tmp_path,
        "DimA: A1, A2 ~~|\nx = 1 + Time ~~|\na[A1] = x ~~|\na[A2] = y * 2 ~~|\n"
        "y = a[A1] + 1 ~~|\nb[DimA] = a[DimA] ~~|\n",
    )
    assert (row["a[A1]"], row["y"], row["a[A2]"]) == (2.0, 3.0, 6.0)
    assert (row["b[A1]"], row["b[A2]"]) == (2.0, 6.0)


def test_a_cycle_through_one_element_is_still_reported(tmp_path: Path) -> None:
    with pytest.raises(ps.ModelError, match=r"algebraic cycle: .*a.*y"):
        run(tmp_path, "DimA: A1, A2 ~~|\na[A1] = y ~~|\na[A2] = 1 ~~|\ny = a[A1] + 1 ~~|\n")


def test_an_except_that_leaves_out_combinations_keeps_the_equation_for_the_others(
    tmp_path: Path,
) -> None:
    row = run(
        tmp_path,
        "DimA: A1, A2 ~~|\nDimC: C1, C2 ~~|\nx[DimA] = 1, 2 ~~|\n"
        "p[DimA, DimC] :EXCEPT: [A1, C1] = 10 * x[DimA] ~~|\np[A1, C1] = -1 ~~|\n"
        "q[DimA, DimC] :EXCEPT: [A1, C2], [A2, C1] = p[DimA, DimC] + Time ~~|\n"
        "s[DimA, DimC] :EXCEPT: [A2, C2] = INTEG(q[DimA, DimC], p[DimA, DimC]) ~~|\n"
        "total = SUM(q[DimA!, DimC!]) ~~|\n",
    )
    # the listed combination has its own equation, every other one the main equation
    assert [row[f"q[A{a},C{c}]"] for a in (1, 2) for c in (1, 2)] == [0.0, 0.0, 0.0, 21.0]
    # combinations left out with no other equation are 0, in a sum and in a stock (s[A1, C1]
    # starts at -1 and takes q = -1 in its one step)
    assert row["total"] == 21.0
    assert [row[f"s[A{a},C{c}]"] for a in (1, 2) for c in (1, 2)] == [-2.0, 10.0, 20.0, 0.0]


def test_subranges_mapped_onto_each_other_are_ordered_element_by_element(
    tmp_path: Path,
) -> None:
    # ce[t2] reads ecc[t1], ecc[t2] reads ce[t2], ce[t3] reads ecc[t2]: a chain, not a cycle
    row = run(
        tmp_path,
        "Target: (t1-t4) ~~|\ntNext: (t2-t4) -> tPrev ~~|\ntPrev: (t1-t3) -> tNext ~~|\n"
        "ecc[t1] = ce[t1] + 1 ~~|\necc[tNext] = ce[tNext] + 1 ~~|\n"
        "ce[t1] = 1 ~~|\nce[tNext] = ecc[tPrev] * 2 ~~|\n",
    )
    ce, ecc = [1.0], [2.0]
    for _ in range(3):
        ce.append(ecc[-1] * 2)
        ecc.append(ce[-1] + 1)
    assert [row[f"ce[t{i}]"] for i in range(1, 5)] == ce
    assert [row[f"ecc[t{i}]"] for i in range(1, 5)] == ecc


def test_a_range_on_the_right_stands_for_the_element_on_the_left(tmp_path: Path) -> None:
    # a[A2] reads a[A1] through the subrange mapped onto it; b over the whole range reads a
    row = run(
        tmp_path,
        "DimA: A1, A2, A3 ~~|\nLater: A2, A3 -> Earlier ~~|\nEarlier: A1, A2 -> Later ~~|\n"
        "w[DimA] = 10, 20, 30 ~~|\na[A1] = 1 ~~|\na[Later] = a[Earlier] + w[Later] ~~|\n"
        "b[DimA] = a[DimA] ~~|\n",
    )
    assert [row[f"a[A{i}]"] for i in (1, 2, 3)] == [1.0, 21.0, 51.0]
    assert [row[f"b[A{i}]"] for i in (1, 2, 3)] == [1.0, 21.0, 51.0]


def test_a_cycle_through_subranges_element_by_element_is_still_reported(
    tmp_path: Path,
) -> None:
    # a[A2] reads a[A2] itself through the subranges: a real cycle
    with pytest.raises(ps.ModelError, match=r"algebraic cycle: .*a"):
        run(
            tmp_path,
            "DimA: A1, A2 ~~|\nSubA: A2 ~~|\na[A1] = 1 ~~|\na[SubA] = a[SubA] + 1 ~~|\n",
        )


def test_an_equation_over_ranges_of_two_families_is_one_variable(tmp_path: Path) -> None:
    # DimAB mixes the elements of DimA and DimB; d has an equation for each family
    row = run(
        tmp_path,
        "DimA: A1, A2 ~~|\nDimA' <-> DimA ~~|\nDimB: B1, B2 ~~|\nDimB' <-> DimB ~~|\n"
        "DimAB: A1, B1, A2, B2 ~~|\nDimABC: A1, A2, B1, B2, C1 ~~|\n"
        "w[DimAB] = 1, 2, 3, 4 ~~|\nd[DimA, DimA'] = w[DimA] - w[DimA'] ~~|\n"
        "d[DimB, DimB'] = w[DimB] * w[DimB'] ~~|\ntotal = SUM(d[DimB!, DimB'!]) ~~|\n",
    )
    assert [row[f"d[A{i},A{j}]"] for i in (1, 2) for j in (1, 2)] == [0.0, -2.0, 2.0, 0.0]
    assert [row[f"d[B{i},B{j}]"] for i in (1, 2) for j in (1, 2)] == [4.0, 8.0, 8.0, 16.0]
    # pairs across the families have no equation: 0
    assert row["d[A1,B2]"] == row["d[B1,A2]"] == 0.0
    assert row["total"] == 36.0


def test_a_sum_over_a_range_runs_over_the_elements_the_variable_has(tmp_path: Path) -> None:
    # g has SubA's elements only, k two elements of DimA given one by one
    row = run(
        tmp_path,
        "DimA: A1, A2, A3, A4 ~~|\nSubA: A2, A3 ~~|\ng[SubA] = 5, 7 ~~|\n"
        "k[A1] = 2 ~~|\nk[A4] = -3 ~~|\nh[DimA] = 1, 2, 3, 4 ~~|\n"
        "total = SUM(g[DimA!]) ~~|\nproduct = PROD(g[DimA!]) ~~|\n"
        "low = VMIN(k[DimA!]) ~~|\nwhole = SUM(h[DimA!]) + SUM(h[SubA!]) ~~|\n",
    )
    assert (row["total"], row["product"]) == (12.0, 35.0)
    assert row["low"] == -3.0
    assert row["whole"] == 10.0 + 5.0
