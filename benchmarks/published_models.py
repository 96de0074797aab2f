"""Published Vensim models against Vensim's own output: how many run, how many match, and PySD
on the same files.

``python benchmarks/published_models.py [--folder DIR] [--fetch] [--source TEMPLATE] [--pysd]``.
The collection is ``tests/published/models.toml``: public repositories at a fixed commit, and
in each a model with the files of Vensim's run of it. ``DIR`` (default: the environment
variable ``PSSC_PUBLISHED_MODELS``, else ``~/.cache/pssc_sim/published``) holds one folder per
repository, ``owner+name``, checked out at that commit; ``--fetch`` clones the missing ones with
git from ``TEMPLATE`` (default ``https://github.com/{repository}.git``; ``{repository}`` is
``owner/name``, ``{owner}`` and ``{name}`` its parts, so a local mirror works too).

Each model runs in a child process, ``pssc conformance --pair MODEL OUTPUT...``, with a time
limit: it *runs* when it simulates, *matches* when every series of the outputs is within the
suite's tolerance ``1e-5 + 1e-5|b|``, and *fails* otherwise; a model that does not run prints
its one-line reason. ``--pysd`` runs PySD on the same files (also in a child process) and
counts the same way.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

from harness import ROOT, machine, pysd_errors

COLLECTION = ROOT / "tests" / "published" / "models.toml"
DEFAULT_FOLDER = Path.home() / ".cache" / "pssc_sim" / "published"


@dataclass(frozen=True, slots=True)
class Entry:
    """One model of the collection, with paths inside its repository's folder."""

    repository: str
    model: str
    outputs: tuple[str, ...]
    #: the data files of the tags the model names them by ('?data'), in the repository
    data_tags: tuple[tuple[str, str], ...] = ()

    def folder(self, root: Path) -> Path:
        return root / self.repository.replace("/", "+")

    def files(self, root: Path) -> tuple[Path, list[Path]]:
        folder = self.folder(root)
        return folder / self.model, [folder / o for o in self.outputs]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one run of a model gave: ``match``, ``fail`` (ran, some series outside), or
    ``error`` (did not run), and its line."""

    status: str
    line: str


def read_collection(path: Path = COLLECTION) -> tuple[dict[str, str], list[Entry]]:
    """The commit of each repository and the models of the collection."""
    document = tomllib.loads(path.read_text(encoding="utf-8"))
    commits = {r["name"]: r["commit"] for r in document["repository"]}
    entries = [
        Entry(
            m["repository"],
            m["model"],
            tuple(m["outputs"]),
            tuple(sorted(m.get("data_tags", {}).items())),
        )
        for m in document["model"]
    ]
    return commits, entries


def fetch(repository: str, commit: str, folder: Path, template: str) -> None:
    """Clone ``repository`` into ``folder`` at ``commit`` unless it is there already."""
    if (folder / ".git").exists():
        return
    owner, name = repository.split("/", 1)
    source = template.format(repository=repository, owner=owner, name=name)
    folder.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "clone", "--quiet", "--no-checkout", source, str(folder)], check=True)
    subprocess.run(["git", "-C", str(folder), "checkout", "--quiet", commit], check=True)


def run_pssc(
    model: Path, outputs: list[Path], limit: float, data_tags: dict[str, Path] | None = None
) -> Outcome:
    """``pssc conformance --pair`` on one model in a child process."""
    command = [sys.executable, "-m", "pssc_sim", "conformance", "--worst", "3"]
    for tag, path in (data_tags or {}).items():
        command += ["--data-tag", f"{tag}={path}"]
    return _child([*command, "--pair", str(model), *map(str, outputs)], limit)


def run_pysd(model: Path, outputs: list[Path], limit: float) -> Outcome:
    """PySD's run of one model, compared the same way, in a child process."""
    command = [sys.executable, str(Path(__file__)), "--pysd-one", str(model), *map(str, outputs)]
    return _child(command, limit)


def _child(command: list[str], limit: float) -> Outcome:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=limit)
    except subprocess.TimeoutExpired:
        return Outcome("error", f"no result within {limit:g} s")
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    first = lines[0] if lines else (done.stderr.strip().splitlines() or ["no output"])[-1]
    if "Traceback" in done.stderr:
        return Outcome("error", f"CRASH {done.stderr.strip().splitlines()[-1]}")
    if first.startswith("PASS"):
        return Outcome("match", first)
    if first.startswith("FAIL"):
        return Outcome("fail", "\n  ".join(lines[:5]))
    return Outcome("error", first)


def pysd_one(model: Path, outputs: list[Path]) -> None:
    """Print ``PASS``/``FAIL`` and PySD's counts for one model, or ``ERROR`` and why."""
    import warnings

    try:
        import pysd

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            read = pysd.read_vensim if model.suffix.lower() == ".mdl" else pysd.read_xmile
            frame = read(str(model)).run(progress=False)
    except Exception as error:  # PySD's failure is the result
        text = " ".join(str(error).split())[:200]
        print(f"ERROR {model.name}: PySD failed ({type(error).__name__}: {text})")
        return
    errors = pysd_errors(frame, outputs)
    within = sum(e[0] <= 1 for e in errors.values())
    loose = sum(e[1] <= 1 for e in errors.values())
    status = "PASS" if within == len(errors) else "FAIL"
    print(
        f"{status} {model.name}: PySD {within}/{len(errors)} series within 1e-5, "
        f"{loose}/{len(errors)} within 1e-3"
    )


def count(outcomes: list[Outcome]) -> str:
    runs = sum(o.status != "error" for o in outcomes)
    matches = sum(o.status == "match" for o in outcomes)
    return (
        f"{len(outcomes)} models: {runs} run, {matches} match, {runs - matches} fail, "
        f"{len(outcomes) - runs} do not run"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path)
    parser.add_argument("--fetch", action="store_true")
    parser.add_argument("--source", default="https://github.com/{repository}.git")
    parser.add_argument("--pysd", action="store_true")
    parser.add_argument("--limit", type=float, default=600.0, help="seconds per model")
    parser.add_argument("--only", default="", help="only models whose path holds this text")
    parser.add_argument("--pysd-one", nargs="+", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.pysd_one:
        pysd_one(args.pysd_one[0], args.pysd_one[1:])
        return
    root = args.folder or Path(os.environ.get("PSSC_PUBLISHED_MODELS", DEFAULT_FOLDER))
    commits, entries = read_collection()
    entries = [e for e in entries if args.only in e.model]
    if args.fetch:
        for repository, commit in commits.items():
            fetch(repository, commit, root / repository.replace("/", "+"), args.source)
    print(f"published_models; {machine()}; {len(entries)} models from {root}")
    ours: list[Outcome] = []
    theirs: list[Outcome] = []
    for entry in entries:
        model, outputs = entry.files(root)
        if not model.is_file():
            print(f"absent {model} (run with --fetch)")
            continue
        present = [o for o in outputs if o.is_file()]
        if len(present) < len(outputs):
            print(f"  ({len(outputs) - len(present)} of its output files absent, not compared)")
        outputs = present or outputs  # with none, the run names the first missing file
        tags = {tag: entry.folder(root) / file for tag, file in entry.data_tags}
        ours.append(run_pssc(model, outputs, args.limit, tags))
        print(f"{ours[-1].status:6} {entry.model}: {ours[-1].line}", flush=True)
        if args.pysd:
            theirs.append(run_pysd(model, outputs, args.limit))
            print(f"  PySD {theirs[-1].status:6} {theirs[-1].line}", flush=True)
    print(f"pssc_sim: {count(ours)}")
    if args.pysd:
        print(f"PySD: {count(theirs)}")


if __name__ == "__main__":
    main()
