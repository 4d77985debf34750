"""What a launch makes: presets x grid x seeds as configs with a study id and readable labels, the groups that
train fused in one process, and the `Plan` that holds them with the launch options. No torch."""
from __future__ import annotations

import dataclasses
import itertools
import math
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..config import FIELD_TYPES, ConfigError, RunConfig, coerce
from ..fusion import SHARED_FIELDS, fusion_blocker
from ..store import RunStore

MAX_RUNS = 5000  # a typo in a grid (0..1:0.0001) must not fill the disk with folders
MAX_FUSED = 8  # members per fused trainer (benchmarks/fused_members.py measures where the gain levels off)


def parse_values(name: str, text: str) -> list[Any]:
    """`0.1,0.3,0.5` or `0.1..0.7:0.2` (inclusive) as values of config field `name`."""
    if name == "seed":
        kind = int
    elif name in FIELD_TYPES:
        kind = FIELD_TYPES[name]
    else:
        raise ConfigError(name, "unknown setting")
    text = text.strip()
    if ".." in text and kind in (int, float):
        span, _, step_text = text.partition(":")
        lo_text, _, hi_text = span.partition("..")
        lo, hi = coerce(name, kind, lo_text), coerce(name, kind, hi_text)
        step = coerce(name, kind, step_text) if step_text else (1 if kind is int else None)
        if any(isinstance(v, float) and not math.isfinite(v) for v in (lo, hi, step)):
            raise ConfigError(name, f"range {text!r}: LOW, HIGH and STEP must be finite numbers")
        if step is None or step <= 0 or hi < lo:
            raise ConfigError(name, f"range {text!r}: write LOW..HIGH:STEP with LOW <= HIGH and STEP > 0")
        count = range_count(lo, hi, step)
        if count is None or count > MAX_RUNS:
            raise ConfigError(name, f"range {text!r} has more than {MAX_RUNS} values")
        values = [lo + i * step for i in range(count)]
        return [round(v, 10) for v in values] if kind is float else values
    values = [coerce(name, kind, part) for part in text.split(",") if part.strip()]
    if not values:
        raise ConfigError(name, "give one value or more, comma-separated")
    if len(set(map(repr, values))) != len(values):
        raise ConfigError(name, f"{text!r} repeats a value")
    return values


def range_count(lo: float, hi: float, step: float) -> int | None:
    """How many values LOW..HIGH:STEP holds (HIGH the last, never passed); None when the count is not even a
    finite number (a step of 1e-320, a span of 1e308 in steps of 1e-300)."""
    if isinstance(lo, int) and isinstance(hi, int) and isinstance(step, int):
        return (hi - lo) // step + 1
    try:
        steps = (hi - lo) / step
    except OverflowError:  # an int too large for a float
        return None
    if not math.isfinite(steps):
        return None
    return math.floor(steps + 1e-9) + 1


def grid_size(bases: int, grid: dict[str, list[Any]], seeds: list[int] | None) -> int:
    """How many runs presets x grid x seeds make, counted from the factors: nothing is built."""
    return bases * math.prod(len(v) for v in grid.values()) * len(seeds or [None])


def check_max_fused(value: int | None) -> int | None:
    """--max-fused / the form's max fused: 1 to 64 runs a fused trainer (None: not given)."""
    if value is not None and not 1 <= value <= 64:
        raise ConfigError("max_fused", f"must be 1 to 64, got {value}")
    return value


def parse_grid(items: list[str] | None) -> dict[str, list[Any]]:
    """`--grid FIELD=V1,V2` items (repeatable) as {field: values}; their cross product is the grid."""
    grid: dict[str, list[Any]] = {}
    for item in items or []:
        if "=" not in item:
            raise ConfigError("grid", f"expected FIELD=V1,V2,..., got {item!r}")
        name, text = item.split("=", 1)
        name = name.strip().replace("-", "_")
        if name == "seed":
            raise ConfigError("grid", "seeds go in --seeds (a count or a list), not in --grid")
        if name in grid:
            raise ConfigError(name, "given twice in --grid")
        grid[name] = parse_values(name, text)
    return grid


def parse_seeds(text: str | None, base: int = 0) -> list[int] | None:
    """`--seeds 3` means seeds base..base+2; `--seeds 0,5,9` (or a range) those seeds; None: not given."""
    if text is None or not str(text).strip():
        return None
    text = str(text).strip()
    if text.isdigit():
        count = int(text)
        if not 1 <= count <= MAX_RUNS:
            raise ConfigError("seeds", f"a count must be 1 to {MAX_RUNS}, got {count}")
        return list(range(base, base + count))
    seeds = parse_values("seed", text)
    if any(s < 0 for s in seeds):
        raise ConfigError("seeds", "seeds are whole numbers >= 0")
    return seeds


def new_study_id() -> str:
    return f"{datetime.now().strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}"


def _value_text(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def expand(bases: list[RunConfig], grid: dict[str, list[Any]], seeds: list[int] | None,
           study: str | None = None) -> list[RunConfig]:
    """Every base config x every grid point x every seed, each labelled (`D p_fc=0.3 seed=2`) and tagged with one
    study id. A single plain run keeps an empty study and its preset as label."""
    names = list(grid)
    total = grid_size(len(bases), grid, seeds)
    if total > MAX_RUNS:  # counted before a single point is built: a typo in three ranges makes 10^9
        raise ConfigError("grid", f"this would launch {total} runs (at most {MAX_RUNS})")
    points = list(itertools.product(*(grid[n] for n in names))) or [()]
    many = total > 1
    study = study if study is not None else (new_study_id() if many else "")
    out = []
    for base in bases:
        for point in points:
            changes = dict(zip(names, point))
            for seed in seeds or [None]:
                cfg = dataclasses.replace(base, **changes, **({"seed": seed} if seed is not None else {}))
                words = [base.preset] + [f"{n}={_value_text(v)}" for n, v in changes.items()]
                if seeds is not None:
                    words.append(f"seed={cfg.seed}")
                out.append(dataclasses.replace(cfg, study=study, label=" ".join(words)))
    return out


def fusion_key(cfg: RunConfig) -> tuple:
    return tuple(repr(getattr(cfg, name)) for name in SHARED_FIELDS)


def group_configs(cfgs: list[RunConfig], fuse: bool = True, max_members: int = MAX_FUSED) -> list[list[int]]:
    """Indices of `cfgs` grouped for training: fusable configs together (in launch order, at most
    `max_members` a group), the rest alone."""
    if not fuse:
        return [[i] for i in range(len(cfgs))]
    groups: list[list[int]] = []
    open_groups: dict[tuple, list[int]] = {}
    for i, cfg in enumerate(cfgs):
        key = fusion_key(cfg)
        group = open_groups.get(key)
        if group is not None and len(group) < max_members and fusion_blocker([cfgs[j] for j in group] + [cfg]) is None:
            group.append(i)
            continue
        if fusion_blocker([cfg]) is not None:
            groups.append([i])
            continue
        group = [i]
        groups.append(group)
        open_groups[key] = group
    return groups


@dataclass(frozen=True)
class LaunchOptions:
    """Where and how a plan's runs start, as `--backend`, `--gpus`, `--per-gpu`, `--max-fused`, `--fuse/--no-fuse`
    and the Slurm flags give them; the form's backend, gpus, per gpu and max fused are the same options. None: not
    given, so the backend's default (max fused: 8, or 1 on a CPU queue slot). Whether a local launch trains in this
    process is not an option of the plan but of the caller (launchers.launcher_for)."""

    backend: str = "local"
    gpus: str | None = None  # queue: auto, cpu or GPU indices
    per_gpu: int | None = None  # queue: trainer processes at once per GPU
    max_fused: int | None = None  # runs one fused trainer takes at most
    fuse: bool = True  # False: every run trains on its own
    slurm: dict[str, Any] = field(default_factory=dict, hash=False)  # the Slurm flags given: partition, time, ...

    @property
    def members(self) -> int:
        """Runs a trainer fuses at most where the launch groups them (local, foreground, Slurm)."""
        return self.max_fused or MAX_FUSED

    def check(self) -> "LaunchOptions":
        """ConfigError naming the option when they do not go together (`--gpus` without the queue); returns self.
        Whether the backend is one is launchers.launcher_for's to say (its table knows them)."""
        if self.backend != "queue" and (self.gpus is not None or self.per_gpu is not None):
            raise ConfigError("gpus", "--gpus and --per-gpu go with --backend queue")
        if self.backend != "slurm" and self.slurm:
            raise ConfigError(next(iter(self.slurm)), "Slurm options go with --backend slurm")
        check_max_fused(self.max_fused)  # every backend: 0 or -5 would pack nothing, or without bound
        return self


def given(values: dict[str, Any]) -> dict[str, Any]:
    """The options actually given (a flag left off is None)."""
    return {k: v for k, v in values.items() if v is not None}


@dataclass
class Plan:
    """One launch: the base configs (one per preset, every change applied), the grid, the seeds, the launch options
    and the name, tags and note each run gets. The CLI's flags and the form's text make equal plans; `start(plan,
    launcher)` makes and starts its runs.

    A grid field's base value is its first grid value (the form checks that one as you type; the CLI's base keeps
    the preset's), so equal launches compare equal. The study id is drawn once, when the plan is made."""

    store: RunStore = field(compare=False, repr=False)
    bases: list[RunConfig]
    grid: dict[str, list[Any]] = field(default_factory=dict)
    seeds: list[int] | None = None
    options: LaunchOptions = field(default_factory=LaunchOptions)
    notes: dict | None = None  # {"name", "tags", "note"}, checked: written into each run's notes.json
    study: str | None = field(default=None, compare=False)  # None: a new id for a study, "" for a single run

    def __post_init__(self) -> None:
        self.bases = [dataclasses.replace(b, **{n: v[0] for n, v in self.grid.items()}) if self.grid else b
                      for b in self.bases]
        if self.study is None:
            self.study = new_study_id() if self.count > 1 else ""

    @property
    def count(self) -> int:
        return grid_size(len(self.bases), self.grid, self.seeds)

    def configs(self) -> list[RunConfig]:
        """Every run, labelled (`D p_fc=0.3 seed=2`) and tagged with the plan's study id."""
        return expand(self.bases, self.grid, self.seeds, self.study)

    def group_indices(self, groups_runs: bool = True) -> list[list[int]]:
        """The configs' indices as trainers take them: fused where they can (at most `members`), or one by one for
        a launcher that packs runs itself (the queue's holder)."""
        return group_configs(self.configs(), self.options.fuse and groups_runs,
                             self.options.members if groups_runs else 1)
