"""How sure: the difference of two groups' means with a 95% confidence interval and a p-value, from scipy's
t-tests (paired by seed where both groups hold the same seeds, else Welch's). No torch, no UI; scipy is imported
only when a difference is computed."""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

from .groups import SeedGroup

PAIRED = "paired t-test"
WELCH = "Welch t-test"
CONFIDENCE = 0.95


@dataclass
class Difference:
    """mean(b) - mean(a) of one figure over each group's finished runs."""
    figure: str
    a: str
    b: str
    n_a: int
    n_b: int
    diff: float | None = None
    low: float | None = None
    high: float | None = None
    p: float | None = None
    test: str = ""
    note: str = ""  # why there is no interval ("too few runs to tell"), or what limits it

    @property
    def known(self) -> bool:
        return self.low is not None and self.high is not None

    def text(self, scale: float = 100.0, digits: int = 1) -> str:
        """`+2.1 [0.4, 3.8]` in points of the figure's scale; the bare difference when no interval exists."""
        if self.diff is None:
            return "-"
        head = f"{self.diff * scale:+.{digits}f}"
        if not self.known:
            return head
        return f"{head} [{self.low * scale:+.{digits}f}, {self.high * scale:+.{digits}f}]"

    def p_text(self) -> str:
        if self.p is None:
            return "-"
        return "<0.001" if self.p < 0.001 else f"{self.p:.3f}"

    def as_dict(self) -> dict[str, Any]:
        return {"figure": self.figure, "a": self.a, "b": self.b, "n_a": self.n_a, "n_b": self.n_b,
                "difference": self.diff, "ci_low": self.low, "ci_high": self.high, "confidence": CONFIDENCE,
                "p_value": self.p, "test": self.test, "note": self.note}


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def seed_values(group: SeedGroup, figure: str) -> dict[Any, float]:
    """The figure of each finished run, keyed by its seed (a run without a usable seed keyed by its id)."""
    out: dict[Any, float] = {}
    for info in group.finished:
        value = getattr(info, figure, None)
        if _finite(value):
            seed = info.config.get("seed")
            key = seed if isinstance(seed, int) and not isinstance(seed, bool) else info.run_id
            out[key] = float(value)
    return out


def difference(a: dict[Any, float], b: dict[Any, float], figure: str = "", names: tuple[str, str] = ("a", "b")
               ) -> Difference:
    """b - a with a 95% interval: paired by seed when both hold the same seeds (two or more), else Welch's
    t-test (each side needs two or more values). Fewer: the bare difference and a note saying so."""
    out = Difference(figure, names[0], names[1], len(a), len(b))
    if not a or not b:
        out.note = "no finished runs on " + ("either side" if not a and not b else "one side")
        return out
    mean_a, mean_b = sum(a.values()) / len(a), sum(b.values()) / len(b)
    out.diff = mean_b - mean_a
    paired = set(a) == set(b) and len(a) >= 2
    if not paired and (len(a) < 2 or len(b) < 2):
        out.note = f"too few runs to tell (n={len(a)} and {len(b)}; a test needs 2 or more each)"
        return out
    from scipy import stats

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # identical values: scipy warns, the checks below say it
        if paired:
            seeds = sorted(a, key=str)
            result = stats.ttest_rel([b[s] for s in seeds], [a[s] for s in seeds])
            out.test = f"{PAIRED} ({len(seeds)} seeds)"
            spreads = [b[s] - a[s] for s in seeds]
        else:
            result = stats.ttest_ind(list(b.values()), list(a.values()), equal_var=False)
            out.test = WELCH
            spreads = list(a.values()) + list(b.values())
        if max(spreads) - min(spreads) == 0 or not math.isfinite(float(result.statistic)):
            out.note = "no spread over seeds: no interval"
            return out
        interval = result.confidence_interval(CONFIDENCE)
    out.low, out.high, out.p = float(interval.low), float(interval.high), float(result.pvalue)
    return out


def group_difference(a: SeedGroup, b: SeedGroup, figure: str = "final_test_acc") -> Difference:
    return difference(seed_values(a, figure), seed_values(b, figure), figure, (a.name, b.name))


def differences(groups: list[SeedGroup], figure: str = "final_test_acc") -> list[Difference]:
    """Each group against the first (the reference, in launch order)."""
    return [group_difference(groups[0], g, figure) for g in groups[1:]]


TESTS_NOTE = ("difference of means (b - a) in points with its 95% interval; paired t-test where both groups hold "
              "the same seeds, else Welch's; finished runs only")
