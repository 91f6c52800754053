"""One row of the `make bench` table: what DomainLens does, the baseline it is measured
against in the same process, their ratio, and whether the target is met."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Row:
    name: str
    ours: float
    baseline: float
    unit: str
    target: str
    met: bool
    lower_is_better: bool = False  # latencies: the ratio is baseline / ours either way
    note: str = ""

    @property
    def ratio(self) -> float:
        if self.lower_is_better:
            return self.baseline / self.ours if self.ours else float("inf")
        return self.ours / self.baseline if self.baseline else float("inf")


def table(rows: list[Row]) -> str:
    """The rows as a fixed-width text table (name, ours, baseline, ratio, target, met, note)."""
    def number(value: float, unit: str) -> str:
        return f"{value:,.1f} {unit}" if value < 100 else f"{value:,.0f} {unit}"

    head = f"{'benchmark':<44}{'ours':>20}{'baseline':>20}{'ratio':>9}  {'target':<22}{'met':<5}note"
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r.name:<44}{number(r.ours, r.unit):>20}{number(r.baseline, r.unit):>20}{r.ratio:>8.1f}x  "
                     f"{r.target:<22}{'yes' if r.met else 'no':<5}{r.note}")
    return "\n".join(lines)
