"""``python -m pssc_sim``: the same command line as ``pssc``."""

from pssc_sim.cli import program

if __name__ == "__main__":  # not when imported, e.g. by doctest collection
    raise SystemExit(program())
