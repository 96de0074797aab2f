"""Published Vensim models against Vensim's own output (the collection of
``tests/published/models.toml``).

The models are not part of the project: ``python benchmarks/published_models.py --fetch``
checks each listed repository out at its commit under ``PSSC_PUBLISHED_MODELS`` (or give that
variable a folder holding them). The tests are skipped when it is not set. Models that match
must keep matching; every other model must stop with a message that names its file, never with
a raw crash.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

import pytest

from pssc_sim.conformance import ModelComparison, compare_model
from pssc_sim.errors import PsscSimError

pytest.importorskip("pysd", reason="the vensim extra (PySD's translators) is not installed")

COLLECTION = Path(__file__).parent / "published" / "models.toml"
ENTRIES = tomllib.loads(COLLECTION.read_text(encoding="utf-8"))["model"]

#: Models of the collection whose every series is within the suite's tolerance.
MATCHING = frozenset(
    {
        "models/active_initial/active_initial.mdl",
        "models/allocate_by_priority/allocate_by_priority.mdl",
        "models/arrays/arrays.mdl",
        "models/comments/comments.mdl",
        "models/delay/delay.mdl",
        "models/delayfixed/delayfixed.mdl",
        "models/delayfixed2/delayfixed2.mdl",
        "models/depreciate/depreciate.mdl",
        "models/directconst/directconst.mdl",
        "models/directdata/directdata.mdl",
        "models/directdata_endofdata/directdata_endofdata.mdl",
        "models/directdata_invalidcell/directdata_invalidcell.mdl",
        "models/directlookups_endofdata/directlookups_endofdata.mdl",
        "models/directsubs/directsubs.mdl",
        "models/elmcount/elmcount.mdl",
        "models/except/except.mdl",
        "models/except2/except2.mdl",
        "models/gamma_ln/gamma_ln.mdl",
        "models/index/index.mdl",
        "models/initial/initial.mdl",
        "models/interleaved/interleaved.mdl",
        "models/invertmatrix/invertmatrix.mdl",
        "models/invertmatrixio/invertmatrixio.mdl",
        "models/longeqns/longeqns.mdl",
        "models/lookup/lookup.mdl",
        "models/mapping/mapping.mdl",
        "models/multimap/multimap.mdl",
        "models/npv/npv.mdl",
        "models/power/power.mdl",
        "models/pulsetrain/pulsetrain.mdl",
        "models/quantum/quantum.mdl",
        "models/ref/ref.mdl",
        "models/same_family_278/same_family_278.mdl",
        "models/sample/sample.mdl",
        "models/separateall/separateall.mdl",
        "models/sir/sir.mdl",
        "models/smooth/smooth.mdl",
        "models/smooth3/smooth3.mdl",
        "models/specialchars/specialchars.mdl",
        "models/subalias/subalias.mdl",
        "models/subscript/subscript.mdl",
        "models/sum/sum.mdl",
        "models/trend/trend.mdl",
        "models/trig/trig.mdl",
        "models/vector/vector.mdl",
    }
)


def _folder() -> Path:
    root = os.environ.get("PSSC_PUBLISHED_MODELS")
    if not root or not Path(root).is_dir():
        pytest.skip(
            "the published models are absent; set PSSC_PUBLISHED_MODELS to a folder and run "
            "python benchmarks/published_models.py --fetch"
        )
    return Path(root)


def test_the_collection_lists_each_repository_once_with_commit_and_licence() -> None:
    document = tomllib.loads(COLLECTION.read_text(encoding="utf-8"))
    names = [r["name"] for r in document["repository"]]
    assert len(names) == len(set(names))
    for repository in document["repository"]:
        assert len(repository["commit"]) == 40
        assert repository["licence"]
    assert {m["repository"] for m in ENTRIES} <= set(names)
    assert len(ENTRIES) >= 20


def _run(
    model: Path, outputs: list[Path], data_tags: dict[str, Path]
) -> ModelComparison | PsscSimError:
    try:
        return compare_model(model, outputs, data_tags)
    except PsscSimError as error:  # a model that does not run says why
        return error


@pytest.mark.slow
@pytest.mark.parametrize("entry", ENTRIES, ids=[Path(e["model"]).stem for e in ENTRIES])
def test_published_model_matches_or_says_why(entry: dict[str, Any]) -> None:
    folder = _folder() / str(entry["repository"]).replace("/", "+")
    model = folder / str(entry["model"])
    outputs = [o for o in (folder / str(o) for o in entry["outputs"]) if o.is_file()]
    if not model.is_file() or not outputs:
        pytest.skip(f"{model}: absent; run python benchmarks/published_models.py --fetch")
    tags = {tag: folder / str(file) for tag, file in entry.get("data_tags", {}).items()}
    result = _run(model, outputs, tags)
    if isinstance(result, PsscSimError):
        assert entry["model"] not in MATCHING, str(result)
        assert str(result).startswith(f"{model}: "), str(result)
    elif entry["model"] in MATCHING:
        assert result.count() == len(result.series), "\n".join(result.lines())
