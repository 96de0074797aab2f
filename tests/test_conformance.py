"""The SDXorg test-models suite: files that pass must keep passing (PySD's rule, all columns).

The suite lives next to the repository (``../shared/test-models``); the test is skipped with a
message when it is absent. Every file runs in this one process, through
:func:`pssc_sim.conformance.run_conformance`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pssc_sim.conformance import FileResult, read_canonical, run_conformance, summary

pytest.importorskip("pysd", reason="the vensim extra (PySD's translators) is not installed")

SUITE = Path(__file__).parents[2] / "shared" / "test-models"

#: Files expected to pass; a regression on any of them fails the test.
EXPECTED_PASS = (
    "samples/Roessler_Chaos/roessler_chaos.mdl",
    "samples/SIR/SIR.mdl",
    "samples/SIR/SIR.stmx",
    "samples/SIR/SIR.xmile",
    "samples/SIR/SIR_legacy.stmx",
    "samples/SIR/SIR_reciprocal-dt.xmile",
    "samples/bpowers-hares_and_lynxes_modules/model.stmx",
    "samples/bpowers-hares_and_lynxes_modules/model.xmile",
    "samples/bpowers-hares_and_lynxes_modules/model_legacy.stmx",
    "samples/simple_harmonic_oscillator/simple_harmonic_oscillator.mdl",
    "samples/teacup/teacup.mdl",
    "samples/teacup/teacup.stmx",
    "samples/teacup/teacup.xmile",
    "samples/teacup/teacup_legacy.stmx",
    "samples/teacup/teacup_mdl.mdl",
    "samples/teacup/teacup_w_diagram.xmile",
    "tests/abs/test_abs.mdl",
    "tests/abs/test_abs.stmx",
    "tests/abs/test_abs.xmile",
    "tests/active_initial/test_active_initial.mdl",
    "tests/active_initial/test_active_initial.stmx",
    "tests/active_initial/test_active_initial.xmile",
    "tests/active_initial_circular/test_active_initial_circular.mdl",
    "tests/allocate_available/test_allocate_available.mdl",
    "tests/allocate_by_priority/test_allocate_by_priority.mdl",
    "tests/arguments/test_arguments.mdl",
    "tests/arithmetics/test_arithmetics.mdl",
    "tests/arithmetics_exp/test_arithmetics_exp.mdl",
    "tests/arithmetics_exp/test_arithmetics_exp.xmile",
    "tests/array_with_line_break/test_array_with_line_break.mdl",
    "tests/builtin_max/builtin_max.mdl",
    "tests/builtin_max/builtin_max.stmx",
    "tests/builtin_max/builtin_max.xmile",
    "tests/builtin_min/builtin_min.mdl",
    "tests/builtin_min/builtin_min.stmx",
    "tests/builtin_min/builtin_min.xmile",
    "tests/case_sensitive_extension/teacup-upper.MDL",
    "tests/chained_initialization/test_chained_initialization.mdl",
    "tests/chained_initialization/test_chained_initialization.stmx",
    "tests/chained_initialization/test_chained_initialization.xmile",
    "tests/comparisons/comparisons.stmx",
    "tests/comparisons/comparisons.xmile",
    "tests/conditional_subscripts/test_conditional_subscripts.mdl",
    "tests/constant_expressions/test_constant_expressions.mdl",
    "tests/constant_expressions/test_constant_expressions.stmx",
    "tests/constant_expressions/test_constant_expressions.xmile",
    "tests/control_vars/test_control_vars.mdl",
    "tests/delay_fixed/test_delay_fixed.mdl",
    "tests/delay_numeric_error/test_delay_numeric_error.mdl",
    "tests/delay_parentheses/test_delay_parentheses.mdl",
    "tests/delay_pipeline/test_pipeline_delays.mdl",
    "tests/delay_xmile/test_delay_xmile.xmile",
    "tests/delays/test_delays.mdl",
    "tests/dynamic_final_time/test_dynamic_final_time.mdl",
    "tests/elm_count/test_elm_count.mdl",
    "tests/euler_step_vs_saveper/test_euler_step_vs_saveper.mdl",
    "tests/eval_order/eval_order.stmx",
    "tests/eval_order/eval_order.xmile",
    "tests/except/test_except.mdl",
    "tests/except_multiple/test_except_multiple.mdl",
    "tests/except_subranges/test_except_subranges.mdl",
    "tests/exp/test_exp.mdl",
    "tests/exp/test_exp.stmx",
    "tests/exp/test_exp.xmile",
    "tests/exponentiation/exponentiation.mdl",
    "tests/exponentiation/exponentiation.stmx",
    "tests/exponentiation/exponentiation.xmile",
    "tests/forecast/test_forecast.mdl",
    "tests/fully_invalid_names/test_fully_invalid_names.mdl",
    "tests/function_capitalization/test_function_capitalization.mdl",
    "tests/function_capitalization/test_function_capitalization.stmx",
    "tests/function_capitalization/test_function_capitalization.xmile",
    "tests/game/test_game.mdl",
    "tests/game/test_game.stmx",
    "tests/game/test_game.xmile",
    "tests/get_constants_incomplete_subscript/test_get_constants_incomplete_subscript.mdl",
    "tests/get_constants_subranges/test_get_constants_subranges.mdl",
    "tests/get_data_args_3d_xls/test_get_data_args_3d_xls.mdl",
    "tests/get_lookups_data_3d_xls/test_get_lookups_data_3d_xls.mdl",
    "tests/get_lookups_subscripted_args/test_get_lookups_subscripted_args.mdl",
    "tests/get_lookups_subset/test_get_lookups_subset.mdl",
    "tests/get_mixed_definitions/test_get_mixed_definitions.mdl",
    "tests/get_subscript_3d_arrays_xls/test_get_subscript_3d_arrays_xls.mdl",
    "tests/get_time_value/test_get_time_value_simple.mdl",
    "tests/get_values_order/test_get_values_order.mdl",
    "tests/get_with_missing_values_xlsx/test_get_with_missing_values_xlsx.mdl",
    "tests/get_xls_cellrange/test_get_xls_cellrange.mdl",
    "tests/if_stmt/if_stmt.mdl",
    "tests/if_stmt/if_stmt.stmx",
    "tests/if_stmt/if_stmt.xmile",
    "tests/initial_function/test_initial.mdl",
    "tests/initial_function/test_initial.stmx",
    "tests/initial_function/test_initial.xmile",
    "tests/input_functions/test_inputs.mdl",
    "tests/invert_matrix/test_invert_matrix.mdl",
    "tests/limits/test_limits.mdl",
    "tests/limits/test_limits.stmx",
    "tests/limits/test_limits.xmile",
    "tests/line_breaks/test_line_breaks.mdl",
    "tests/line_breaks/test_line_breaks.stmx",
    "tests/line_breaks/test_line_breaks.xmile",
    "tests/line_continuation/test_line_continuation.mdl",
    "tests/line_continuation/test_line_continuation.stmx",
    "tests/line_continuation/test_line_continuation.xmile",
    "tests/ln/test_ln.mdl",
    "tests/ln/test_ln.stmx",
    "tests/ln/test_ln.xmile",
    "tests/log/test_log.mdl",
    "tests/log/test_log.stmx",
    "tests/log/test_log.xmile",
    "tests/logicals/test_logicals.mdl",
    "tests/logicals/test_logicals.xmile",
    "tests/logicals/test_logicals_caseinsensitive.xmile",
    "tests/lookups/test_lookups.mdl",
    "tests/lookups/test_lookups.xmile",
    "tests/lookups/test_lookups_no-indirect.stmx",
    "tests/lookups/test_lookups_no-indirect.xmile",
    "tests/lookups/test_lookups_xpts_sep.xmile",
    "tests/lookups/test_lookups_xscale.xmile",
    "tests/lookups/test_lookups_ypts_sep.xmile",
    "tests/lookups_funcnames/test_lookups_funcnames.mdl",
    "tests/lookups_inline/test_lookups_inline.mdl",
    "tests/lookups_inline/test_lookups_inline.stmx",
    "tests/lookups_inline/test_lookups_inline.xmile",
    "tests/lookups_inline_bounded/test_lookups_inline_bounded.mdl",
    "tests/lookups_inline_spaces/test_lookups_inline_spaces.mdl",
    "tests/lookups_with_expr/test_lookups_with_expr.mdl",
    "tests/lookups_without_range/test_lookups_without_range.mdl",
    "tests/macro_cross_reference/test_macro_cross_reference.mdl",
    "tests/macro_expression/test_macro_expression.mdl",
    "tests/macro_multi_expression/test_macro_multi_expression.mdl",
    "tests/macro_multi_macros/test_macro_multi_macros.mdl",
    "tests/macro_stock/test_macro_stock.mdl",
    "tests/macro_trailing_definition/test_macro_trailing_definition.mdl",
    "tests/min_max_1arg/test_min_max_1arg.xmile",
    "tests/model_doc/model_doc.mdl",
    "tests/model_doc/model_doc.stmx",
    "tests/model_doc/model_doc.xmile",
    "tests/multiple_lines_def/test_multiple_lines_def.mdl",
    "tests/na/test_na.mdl",
    "tests/nested_functions/test_nested_functions.mdl",
    "tests/non_negative_all/test_non_negative_all1.xmile",
    "tests/non_negative_all/test_non_negative_all2.xmile",
    "tests/non_negative_flows/test_non_negative_flows.xmile",
    "tests/non_negative_flows/test_non_negative_flows_behavior.xmile",
    "tests/non_negative_stocks/test_non_negative_stocks.xmile",
    "tests/non_negative_stocks/test_non_negative_stocks_behavior.xmile",
    "tests/number_handling/test_number_handling.mdl",
    "tests/number_handling/test_number_handling.stmx",
    "tests/number_handling/test_number_handling.xmile",
    "tests/odd_number_quotes/teacup_3quotes.mdl",
    "tests/parentheses/test_parens.mdl",
    "tests/parentheses/test_parens.stmx",
    "tests/parentheses/test_parens.xmile",
    "tests/partial_range_definitions/test_partial_range_definitions.mdl",
    "tests/pi/test_pi.xmile",
    "tests/power/power.mdl",
    "tests/reference_capitalization/test_reference_capitalization.mdl",
    "tests/reference_capitalization/test_reference_capitalization.stmx",
    "tests/reference_capitalization/test_reference_capitalization.xmile",
    "tests/repeated_subscript/test_repeated_subscript.mdl",
    "tests/rounding/test_rounding.mdl",
    "tests/rounding/test_rounding.xmile",
    "tests/sample_if_true/test_sample_if_true.mdl",
    "tests/smaller_range/test_smaller_range.mdl",
    "tests/smooth/test_smooth.mdl",
    "tests/smooth_and_stock/test_smooth_and_stock.mdl",
    "tests/smooth_and_stock/test_smooth_and_stock.stmx",
    "tests/special_characters/test_special_variable_names.mdl",
    "tests/special_characters_xmile/test_special_variable_names.xmile",
    "tests/sqrt/test_sqrt.mdl",
    "tests/sqrt/test_sqrt.stmx",
    "tests/sqrt/test_sqrt.xmile",
    "tests/subrange_merge/test_subrange_merge.mdl",
    "tests/subscript_1d_arrays/test_subscript_1d_arrays.mdl",
    "tests/subscript_2d_arrays/test_subscript_2d_arrays.mdl",
    "tests/subscript_3d_arrays/test_subscript_3d_arrays.mdl",
    "tests/subscript_3d_arrays_lengthwise/test_subscript_3d_arrays_lengthwise.mdl",
    "tests/subscript_3d_arrays_widthwise/test_subscript_3d_arrays_widthwise.mdl",
    "tests/subscript_aggregation/test_subscript_aggregation.mdl",
    "tests/subscript_constant_call/test_subscript_constant_call.mdl",
    "tests/subscript_copy/test_subscript_copy.mdl",
    "tests/subscript_copy/test_subscript_copy2.mdl",
    "tests/subscript_definition/test_subscript_definition.mdl",
    "tests/subscript_docs/subscript_docs.mdl",
    "tests/subscript_element_name/test_subscript_element_name.mdl",
    "tests/subscript_individually_defined_1_of_2d_arrays/subscript_individually_defined_1_of_2d_arrays.mdl",
    "tests/subscript_individually_defined_1_of_2d_arrays_from_floats/subscript_individually_defined_1_of_2d_arrays_from_floats.mdl",
    "tests/subscript_individually_defined_1d_arrays/subscript_individually_defined_1d_arrays.mdl",
    "tests/subscript_individually_defined_1d_arrays/subscript_individually_defined_1d_arrays.stmx",
    "tests/subscript_individually_defined_1d_arrays/subscript_individually_defined_1d_arrays.xmile",
    "tests/subscript_individually_defined_stocks/test_subscript_individually_defined_stocks.mdl",
    "tests/subscript_logicals/test_subscript_logicals.mdl",
    "tests/subscript_mapping_simple/test_subscript_mapping_simple.mdl",
    "tests/subscript_mapping_vensim/test_subscript_mapping_vensim.mdl",
    "tests/subscript_mixed_assembly/test_subscript_mixed_assembly.mdl",
    "tests/subscript_multiples/test_multiple_subscripts.mdl",
    "tests/subscript_numeric_range/test_subscript_numeric_range.mdl",
    "tests/subscript_selection/subscript_selection.mdl",
    "tests/subscript_subranges/test_subscript_subrange.mdl",
    "tests/subscript_subranges_equal/test_subscript_subrange_equal.mdl",
    "tests/subscript_switching/subscript_switching.mdl",
    "tests/subscript_transposition/test_subscript_transposition.mdl",
    "tests/subscript_updimensioning/test_subscript_updimensioning.mdl",
    "tests/subscripted_delays/test_subscripted_delays.mdl",
    "tests/subscripted_flows/test_subscripted_flows.mdl",
    "tests/subscripted_if_then_else/test_subscripted_if_then_else.mdl",
    "tests/subscripted_logicals/test_subscripted_logicals.mdl",
    "tests/subscripted_lookups/test_subscripted_lookups.mdl",
    "tests/subscripted_ramp_step/test_subscripted_ramp_step.mdl",
    "tests/subscripted_round/test_subscripted_round.mdl",
    "tests/subscripted_smooth/test_subscripted_smooth.mdl",
    "tests/subscripted_trend/test_subscripted_trend.mdl",
    "tests/subscripted_trig/test_subscripted_trig.mdl",
    "tests/subscripted_trig/test_subscripted_trig.xmile",
    "tests/subscripted_xidz/test_subscripted_xidz.mdl",
    "tests/subset_duplicated_coord/test_subset_duplicated_coord.mdl",
    "tests/tabbed_arrays/tabbed_arrays.mdl",
    "tests/time/test_time.mdl",
    "tests/trend/test_trend.mdl",
    "tests/trig/test_trig.mdl",
    "tests/trig/test_trig.stmx",
    "tests/trig/test_trig.xmile",
    "tests/unchangeable_constant/test_unchangeable_constant.mdl",
    "tests/unicode_characters/unicode_test_model.mdl",
    "tests/variable_ranges/test_variable_ranges.mdl",
    "tests/vector_order/test_vector_order.mdl",
    "tests/vector_select/test_vector_select.mdl",
    "tests/with_lookup/test_with_lookup.mdl",
    "tests/xidz_zidz/xidz_zidz.mdl",
    "tests/xidz_zidz/xidz_zidz.stmx",
    "tests/xidz_zidz/xidz_zidz.xmile",
    "tests/zeroled_decimals/test_zeroled_decimals.mdl",
    "tests/zeroled_decimals/test_zeroled_decimals.xmile",
)


@pytest.fixture(scope="module")
def results() -> dict[str, FileResult]:
    if not (SUITE / "MANIFEST.csv").is_file():
        pytest.skip(f"the test-models suite is not at {SUITE}; clone it there to run this test")
    return {r.file: r for r in run_conformance(SUITE)}


def test_expected_files_pass(results: dict[str, FileResult]) -> None:
    failing = [
        results[f].line() if f in results else f"{f}: not run"
        for f in EXPECTED_PASS
        if f not in results or not results[f].passed
    ]
    assert not failing, "\n".join(failing)


@pytest.mark.parametrize(
    ("tier", "fmt", "at_least"),
    [
        ("A", "mdl", 61),
        ("A", "xmile", 49),
        ("B", "mdl", 56),
        ("B", "xmile", 4),
        ("C", "mdl", 14),
        ("C", "xmile", 1),
        (None, "stmx", 36),
    ],
)
def test_gates(results: dict[str, FileResult], tier: str | None, fmt: str, at_least: int) -> None:
    chosen = [r for r in results.values() if r.format == fmt and (tier is None or r.tier == tier)]
    assert sum(r.passed for r in chosen) >= at_least, summary(chosen)


def test_every_valid_tier_a_file_passes(results: dict[str, FileResult]) -> None:
    # Valid: every file but those whose canonical data conformance.md lists as known-bad.
    tier_a = [r for r in results.values() if r.tier == "A" and r.format in ("mdl", "xmile")]
    assert len(tier_a) == 61 + 50
    assert [r.line() for r in tier_a if not (r.passed or r.status == "skipped")] == []
    assert sum(r.status == "skipped" for r in tier_a) == 1


def test_nothing_fails_silently(results: dict[str, FileResult]) -> None:
    for result in results.values():
        assert result.passed or result.detail, result.line()


def test_every_failing_mdl_file_names_its_variable_and_construct(
    results: dict[str, FileResult],
) -> None:
    failing = [r for r in results.values() if r.format == "mdl" and r.status in ("fail", "error")]
    failing += [r for r in results.values() if r.format == "mdl" and r.status == "unsupported"]
    for result in failing:
        assert "unsupported construct '" in result.detail, result.line()
        assert result.file.rsplit("/", 1)[-1] in result.detail, result.line()
    # a model whose run draws random numbers cannot repeat Vensim's draws, and says so
    query = results["samples/Query_file/Query_file.mdl"]
    assert query.detail.startswith(
        f"{SUITE / 'samples/Query_file/Query_file.mdl'}: kWhPerStovePerDay: unsupported "
        "construct 'Vensim's own random numbers'"
    )


def test_canonical_quirks(tmp_path: Path) -> None:
    path = tmp_path / "output.tab"
    path.write_bytes("Time\tConst\tCaf\xe9 x\r0\t5\t1\r1\t\t\r2\t\t3\r".encode("latin-1"))
    frame = read_canonical(path)
    assert frame["Const"].tolist() == [5.0, 5.0, 5.0]
    assert frame.index.tolist() == [0.0, 1.0, 2.0]
    assert frame["Caf\xe9 x"].isna().tolist() == [False, True, False]


def test_vensim_dat_output_is_a_table_by_time(tmp_path: Path) -> None:
    # Vensim's .dat: each variable's name on its own line, then "time<TAB>value" lines; a
    # constant is written at its first time only.
    path = tmp_path / "run.dat"
    path.write_text("Rate\n0\t2\nStock[A1]\n0\t1\n1\t1.5\n2\t2.25\n", encoding="latin-1")
    frame = read_canonical(path)
    assert frame.index.tolist() == [0.0, 1.0, 2.0]
    assert frame["Stock[A1]"].tolist() == [1.0, 1.5, 2.25]
    assert frame["Rate"].tolist() == [2.0, 2.0, 2.0]


def test_converting_each_passing_mdl_to_yaml_gives_identical_results(
    results: dict[str, FileResult], tmp_path: Path
) -> None:
    import numpy as np

    import pssc_sim as ps
    from pssc_sim.parse.translate import convert

    passing = [name for name, r in results.items() if r.passed and r.format == "mdl"]
    assert len(passing) >= 67
    for i, name in enumerate(passing):
        source = SUITE / name
        target = convert(source, tmp_path / f"model{i}.yaml")
        original, converted = ps.simulate(ps.load_model(source)), ps.simulate(ps.load_model(target))
        assert converted.names == original.names, name
        np.testing.assert_array_equal(converted.values, original.values, err_msg=name)
