"""The check of Vensim and XMILE text before PySD's translators parse it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import pssc_sim as ps
from pssc_sim.errors import ModelError
from pssc_sim.parse.translate import convert
from pssc_sim.parse.translate.precheck import check_vensim_text, check_xmile_file

CONTROLS = "INITIAL TIME = 0 ~~|\nFINAL TIME = 1 ~~|\nTIME STEP = 0.5 ~~|\nSAVEPER = 0.5 ~~|\n"


@pytest.mark.parametrize(
    "text",
    [
        "t( [(0,0)-(1,1)],(0,0),(1,1)) ~~|",
        "t(\n\t[(-1.5,0)-(1e+006,2.5E-3)], (0,0),(1,1)) ~~|",
        "t([(0,0)-(10,10),(1,2),(3,4)],(0,0),(10,10)) ~~|",
        "x = WITH LOOKUP(Time, ([(0,0)-(1,1)],(0,0),(1,1))) ~~|",
        "x = WITH LOOKUP(Time, ((0,0),(1,1))) ~~|",
        "x[region] = y[region] * (z[region]) ~~|",
        "x = MAX(y[a], (z)) ~~|",
        "company : (company1-company5)->scompany ~~|",
        "DimC: SubC, C3 -> DimD ~~|\nDimA: A1, A2 -> DimB, DimC ~~|",
    ],
)
def test_numeric_ranges_and_subscripts_pass(text: str) -> None:
    check_vensim_text("m.mdl", text + CONTROLS)


@pytest.mark.parametrize(
    ("text", "variable", "got"),
    [
        ('t( [(__import__("os"),0)-(1,1)],(0,0),(1,1)) ~~|', "t", r"'\[\(__import__\(\"os\"\)"),
        ("Heat  Loss( [(0,0)-(1,a)],(0,0)) ~~|", "Heat Loss", r"'\[\(0,0\)-\(1,a\)\]'"),
        ("a = 1 ~~|\nb = WITH LOOKUP(a, ([(0,0)-(1,x)],(0,0))) ~~|", "b", r"'\[\(0,0\)-\(1,x\)\]'"),
        ("c = WITH LOOKUP(a, ( \\\n [ (0,0)-(1,1) ; ],(0,0))) ~~|", "c", r"'\[ \(0,0\)-\(1,1\) ;"),
        ("d( [()-()],(0,0)) ~~|", "d", r"'\[\(\)-\(\)\]'"),
        ("e( [(1,2)-(3,4)", "e", r"'\[\(1,2\)-\(3,4\)INITIAL TIME"),
        ("f( [(0,0)-(1,1)],(0,0),(1,1)) ~~|\ng( [0x10],(0,0)) ~~|", "g", r"'\[0x10\]'"),
    ],
)
def test_any_other_range_is_refused_naming_its_variable(text: str, variable: str, got: str) -> None:
    with pytest.raises(
        ModelError,
        match=rf"^m\.mdl: {variable}: a lookup range must be numbers \(got {got}.*\)\. Write it "
        r"as \[\(x_min,y_min\)-\(x_max,y_max\)\] with plain numbers$",
    ):
        check_vensim_text("m.mdl", text + CONTROLS)


@pytest.mark.parametrize(
    "text",
    [
        "DimB: B1, B2 -> (DimA: SubA, A3) ~~|",
        "x = 1 ~~|\nDimA: A1, A2, A3 -> (DimB: B3, B2, B1), DimC ~~|",
    ],
)
def test_a_mapping_to_a_list_of_elements_passes(text: str) -> None:
    check_vensim_text("m.mdl", text + CONTROLS)


def test_a_range_is_shown_escaped_and_cut(tmp_path: Path) -> None:
    text = "t( [(1,1)\x1b[2J" + "x" * 5000 + "],(0,0)) ~~|"
    with pytest.raises(ModelError) as info:
        check_vensim_text("m.mdl", text)
    message = str(info.value)
    assert "\x1b" not in message
    assert len(message) < 400


XMILE = '<xmile version="1.0" xmlns="http://docs.oasis-open.org/xmile/ns/XMILE/v1.0"/>'


@pytest.mark.parametrize(
    "head", ["", '<?xml version="1.0" encoding="utf-8"?>\n', "\ufeff<?xml version='1.0'?>"]
)
def test_plain_utf8_xmile_passes(tmp_path: Path, head: str) -> None:
    path = tmp_path / "m.xmile"
    path.write_text(head + XMILE, encoding="utf-8")
    check_xmile_file(path)


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>', "a document type declaration"),
        (b'<!entity e "x">', r"a document type declaration \(got '<!entity e"),
        (
            b'<?xml version="1.0" encoding="UTF-7"?>',
            r"an XMILE file must be UTF-8 text \(got the encoding 'UTF-7'",
        ),
        (
            "<xmile/>".encode("utf-16"),
            r"an XMILE file must be UTF-8 text \(got a NUL byte at offset 3\)",
        ),
        (
            "<xmile/>".encode("utf-16-le"),
            r"an XMILE file must be UTF-8 text \(got a NUL byte at offset 1\)",
        ),
        (b"<xmile>\xe9</xmile>", r"an XMILE file must be UTF-8 text \(got byte 0xe9 at offset 7\)"),
    ],
)
def test_other_xmile_is_refused(tmp_path: Path, data: bytes, match: str) -> None:
    path = tmp_path / "m.xmile"
    path.write_bytes(data + XMILE.encode())
    with pytest.raises(ModelError, match=rf"m\.xmile: {match}"):
        check_xmile_file(path)


def test_an_unreadable_xmile_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=r"m\.xmile: cannot read the file \(.*\)\. Check the path"):
        check_xmile_file(tmp_path / "m.xmile")


@pytest.mark.parametrize("suffix", [".mdl", ".xmile"])
def test_importing_writes_nothing_beside_the_model_and_imports_no_generated_code(
    tmp_path: Path, suffix: str
) -> None:
    pytest.importorskip("pysd", reason="the vensim extra (PySD's translators) is not installed")
    path = tmp_path / f"decay{suffix}"
    if suffix == ".mdl":
        path.write_text("x = INTEG(-x / 2, 10) ~~|\n" + CONTROLS, encoding="utf-8")
    else:
        path.write_text(
            XMILE.replace(
                "/>",
                "><sim_specs><start>0</start><stop>1</stop><dt>0.5</dt></sim_specs><model>"
                '<variables><stock name="x"><eqn>10</eqn><outflow>out</outflow></stock>'
                '<flow name="out"><eqn>x / 2</eqn></flow></variables></model></xmile>',
            ),
            encoding="utf-8",
        )
    before = set(sys.modules)
    assert ps.simulate(ps.load_model(path)).names
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]
    new = [sys.modules[m] for m in set(sys.modules) - before]
    assert not [m for m in new if str(tmp_path) in str(getattr(m, "__file__", None) or "")]


def test_a_file_name_cannot_add_lines_to_a_converted_model(tmp_path: Path) -> None:
    pytest.importorskip("pysd", reason="the vensim extra (PySD's translators) is not installed")
    source = tmp_path / "x\nparameters: {evil: 1}\n#.mdl"
    source.write_text("x = INTEG(-x / 2, 10) ~~|\n" + CONTROLS, encoding="utf-8")
    text = convert(source, tmp_path / "m.yaml").read_text(encoding="utf-8")
    assert (
        text.splitlines()[0] == "# Converted by pssc_sim from 'x\\nparameters: {evil: 1}\\n#.mdl'."
    )
    assert "evil" not in ps.load_model(tmp_path / "m.yaml").parameter_names
