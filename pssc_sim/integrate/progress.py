"""Progress of a run as the fraction done, reported to a callback that the caller passes in.

The fraction is the share of the member-time of the run integrated so far: a chunk of an
ensemble counts by its members, and within a chunk by the time reached over the span
``stop - start``. The integrators tell :class:`ProgressReport` where they are every few dozen
steps; it calls the callback at most every ``interval`` seconds, and once with ``1.0`` at the end,
so a callback that draws costs nothing noticeable. The library never draws anything itself.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from pssc_sim.integrate.grid import Grid

#: ``progress(fraction)``: the fraction of the run done, from 0 to 1, never decreasing.
Progress = Callable[[float], None]

#: Seconds between two calls of the callback, at most (the final ``1.0`` always comes).
INTERVAL = 0.1


class ProgressReport:
    """Turns ``(chunk, time reached)`` into calls of a progress callback, throttled in time.

    Examples
    --------
    >>> seen = []
    >>> report = ProgressReport(seen.append, Grid(0.0, 10.0, 1.0, 1.0), members=4, interval=0)
    >>> report.chunk(0, 2)
    >>> report.reached(5.0)
    >>> report.chunk(2, 4)
    >>> report.reached(10.0)
    >>> report.finish()
    >>> seen
    [0.25, 1.0]
    """

    def __init__(
        self,
        callback: Progress | None,
        grid: Grid,
        members: int,
        interval: float | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        """``interval``: seconds between two calls at most (default :data:`INTERVAL`)."""
        self.callback = callback
        self.start, self.span = grid.start, grid.stop - grid.start
        self.members = members
        self.interval = INTERVAL if interval is None else interval
        self.clock = clock
        self.first, self.size = 0, members
        self.last_fraction, self.last_call = 0.0, clock()

    def chunk(self, start: int, stop: int) -> None:
        """Members ``start:stop`` are integrated next."""
        self.first, self.size = start, stop - start

    def reached(self, t: float) -> None:
        """The current chunk has been integrated up to time ``t``."""
        if self.callback is None:
            return
        now = self.clock()
        if now - self.last_call < self.interval:
            return
        share = min(max((t - self.start) / self.span, 0.0), 1.0)
        fraction = min((self.first + self.size * share) / self.members, 1.0)
        if fraction > self.last_fraction:
            self.last_fraction, self.last_call = fraction, now
            self.callback(fraction)

    def finish(self) -> None:
        """The whole run is done: the callback gets ``1.0`` (once)."""
        if self.callback is not None and self.last_fraction < 1.0:
            self.last_fraction = 1.0
            self.callback(1.0)
