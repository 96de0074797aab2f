"""Teaching mode (``pssc explore --demo gaming``): a demo's story as steps, each a preset of the
explorer with one paragraph, the controls free to play with at every step.

The steps come from the demo file (:mod:`pssc_sim.report.demo`), case by case: the target (the
blame scenario at the model's default culture), the same target in a blame culture, in a learning
culture, and the Public Sector Scorecard outcome set.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pssc_sim.explore.controls import read_value
from pssc_sim.report.demo import load_demo
from pssc_sim.scenario.definition import Scenario

if TYPE_CHECKING:
    import panel as pn

    from pssc_sim.explore.app import Explorer

#: The URL key of the step shown (1 for the first).
STEP = "step"
#: The title of the first step of a case: its target at the model's own culture.
TARGET_STEP = "The target"
#: What the first step of a case says, before the case's own story.
TARGET_TEXT = (
    "Here is the target at the model's default culture (0.5). Try the culture slider "
    "and watch the two ledgers of the targeted measure: reported (solid) and true "
    "(dashed)."
)


@dataclass(frozen=True, slots=True)
class Step:
    """One step of a teaching demo: a title, a paragraph and the scenario it opens."""

    title: str
    text: str
    scenario: Scenario


def demo_steps(name: str) -> tuple[Step, ...]:
    """The steps of the demo ``name``: for each case, the target, blame, learning and the outcome
    set (as the demo's roles give them).

    Examples
    --------
    >>> [step.title.split(":")[0] for step in demo_steps("gaming")][:4]
    ['Ambulance service', 'Ambulance', 'Ambulance', 'Ambulance']
    """
    demo = load_demo(name)
    steps = []
    for case in demo.cases:
        blame = Scenario.load(case.scenario("blame").path)
        first = " ".join(case.narrative.split()[:90])
        steps.append(
            Step(
                f"{case.title}: {TARGET_STEP.lower()}",
                f"{TARGET_TEXT} {first}",
                blame.with_culture(None).with_name(f"{blame.label}-default-culture"),
            )
        )
        for role in ("blame", "learning", "pss"):
            item = case.scenario(role)
            steps.append(
                Step(item.title, " ".join(item.narrative.split()), Scenario.load(item.path))
            )
    return tuple(steps)


class Teaching:
    """The teaching page of one session: step buttons above an explorer of the current step."""

    def __init__(
        self, steps: tuple[Step, ...], query: dict[str, Any] | None = None, backend: str = "auto"
    ) -> None:
        import panel as pn

        self.steps = steps
        self.backend = backend
        self.index = 0
        self.explorer: Explorer | None = None
        self.heading = pn.pane.Markdown("", sizing_mode="stretch_width")
        self.body = pn.Column(sizing_mode="stretch_width")
        back = pn.widgets.Button(label="Previous step", width=130)
        forward = pn.widgets.Button(label="Next step", color="primary", width=130)
        back.on_click(lambda _: self.go(self.index - 1))
        forward.on_click(lambda _: self.go(self.index + 1))
        self.layout: pn.viewable.Viewable = pn.Column(
            pn.Row(back, forward, self.heading, sizing_mode="stretch_width"),
            self.body,
            sizing_mode="stretch_width",
        )
        given = dict(query or {})
        raw = given.pop(STEP, None)
        number = read_value(raw if isinstance(raw, (str, bytes)) else raw[-1]) if raw else None
        self.go(int(number) - 1 if number is not None else 0, given)

    def go(self, index: int, query: dict[str, Any] | None = None) -> None:
        """Open step ``index`` (kept within the steps) with its preset; ``query`` sets its
        controls (the step's scenario otherwise)."""
        from pssc_sim.explore.app import Explorer

        self.index = min(max(index, 0), len(self.steps) - 1)
        step = self.steps[self.index]
        self.heading.object = (
            f"**Step {self.index + 1} of {len(self.steps)}: {step.title}**\n\n{step.text}"
        )
        self.explorer = Explorer(
            step.scenario, query or {}, address={STEP: str(self.index + 1)}, backend=self.backend
        )
        self.body.objects = [self.explorer.layout]
        self.explorer.write_location()
