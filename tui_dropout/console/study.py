"""What the new-run form launches: presets x grid x seeds on a backend, read from the form's text the way
`dropout-tui study` reads its options (launch.plan), so the form and the CLI make the same runs. No Textual."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable

from ..config import FIELD_TYPES, OPTIONAL_FIELDS, ConfigError, RunConfig, list_presets, load_preset, problems
from ..data import DataError, check_available
from ..launch.plan import (MAX_FUSED, MAX_RUNS, check_max_fused, expand, grid_size, group_configs, parse_seeds,
                           parse_values)
from ..launch.queue import CPU, QueueSettings, settings_from
from ..preflight import preflight_problems

BACKENDS = ("local", "queue")
GRID_KINDS = (int, float)  # number fields take a list or a range; text fields keep commas as they are
GRID_CHECKED = 400  # grid values checked on each key press (all of them at launch, off the UI thread)
TRAINERS_COUNTED = 400  # up to this many runs the form says how many trainer processes they make
# The form's launch settings, their defaults and the fields they are named by in errors.
LAUNCH_DEFAULTS = {"seeds": "", "backend": "local", "gpus": "auto", "per_gpu": "1", "max_fused": str(MAX_FUSED)}

ReadPreset = Callable[[str], "RunConfig | ConfigError"]


def default_preset() -> str:
    """A preset that runs on this machine as it is: the seed's A when CIFAR-10 is in place, else quick."""
    names = list_presets()
    try:
        check_available("cifar10", None)
        if "A" in names:
            return "A"
    except DataError:
        pass
    return "quick" if "quick" in names else sorted(names)[0] if names else "quick"


def read_preset(name: str) -> RunConfig | ConfigError:
    """The preset's config, or the error that keeps it from loading (a bad value inside is named with its field)."""
    try:
        return load_preset(name)
    except ConfigError as exc:
        return exc if exc.field == "preset" else ConfigError("preset", str(exc))


def is_grid(name: str, text: str) -> bool:
    """A number field holding several values: `0.1,0.3,0.5` or `0.1..0.7:0.2`."""
    return FIELD_TYPES.get(name) in GRID_KINDS and ("," in text or ".." in text)


def value_text(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


@dataclass
class StudyPlan:
    """The runs one launch from the form makes and where they go."""

    presets: list[str]
    bases: list[RunConfig]  # one per preset, the form's single values applied
    grid: dict[str, list[Any]] = field(default_factory=dict)  # number field -> its values, in form order
    seeds: list[int] | None = None
    backend: str = "local"
    queue: QueueSettings | None = None  # the queue's slots when backend is "queue"
    max_fused: int = MAX_FUSED

    @property
    def count(self) -> int:
        return grid_size(len(self.bases), self.grid, self.seeds)

    def configs(self, study: str | None = None) -> list[RunConfig]:
        """Every run, labelled and tagged with one study id exactly as `dropout-tui study` does."""
        return expand(self.bases, self.grid, self.seeds, study)

    @property
    def fuse_members(self) -> int:
        """Runs per group for launch.prepare(): the queue's holder packs runs itself, so it gets them one by one."""
        return self.max_fused if self.backend == "local" else 1

    def shape(self) -> str:
        """`15 runs: 5 p_fc x 3 seeds, study of D`, or `1 run of D`."""
        names = " ".join(self.presets)
        if self.count == 1:
            return f"1 run of {names}"
        parts = [f"{len(self.presets)} presets"] if len(self.presets) > 1 else []
        parts += [f"{len(values)} {name}" for name, values in self.grid.items()]
        if self.seeds is not None:
            parts.append(f"{len(self.seeds)} seed{'s' if len(self.seeds) != 1 else ''}")
        return f"{self.count} runs: {' x '.join(parts)}, study of {names}"

    def where(self) -> str:
        """How they start: `now, 2 trainer processes` or `on the queue: 2 slots on GPU 0,1`."""
        if self.backend == "queue" and self.queue is not None:
            slots = len(self.queue.slots())
            where = "the CPU" if self.queue.gpus == [CPU] else "GPU " + ",".join(self.queue.gpus)
            packed = self.queue.max_fused if self.count > slots and self.queue.max_fused > 1 else 0
            return (f"on the queue: {slots} slot{'s' if slots != 1 else ''} on {where}"
                    + (f", up to {packed} runs fused a slot" if packed else ""))
        if self.count > TRAINERS_COUNTED:
            return f"now, up to {self.max_fused} runs fused a trainer process"
        try:
            trainers = len(group_configs(self.configs(study=""), True, self.max_fused))
        except ConfigError:
            return "now"
        return f"now, {trainers} trainer process{'es' if trainers != 1 else ''}" + (
            " (fused)" if trainers < self.count else "")

    def describe(self) -> str:
        return f"{self.shape()}, {self.where()}"


def split_grid(values: dict[str, str]) -> tuple[dict[str, str], dict[str, list[Any]], dict[str, str]]:
    """The form's text as single values, the grid and the grid's errors.

    A grid field keeps its first value among the single values, so every check of a config sees a real value."""
    single, grid, errors = {}, {}, {}
    for name, text in values.items():
        if not is_grid(name, text):
            single[name] = text
            continue
        if name == "seed":
            errors[name] = "one seed here: several go in seeds (a count or a list)"
            continue
        try:
            grid[name] = parse_values(name, text)
        except ConfigError as exc:
            errors[name] = exc.reason
            continue
        single[name] = value_text(grid[name][0])
    return single, grid, errors


def config_from_form(preset: str | RunConfig | ConfigError, values: dict[str, str], read: ReadPreset = read_preset
                     ) -> tuple[RunConfig | None, dict[str, str]]:
    """The preset with the form's text applied, and {field: reason} for everything wrong, all at once.

    `preset` is a name or what read() gave for one. The config is None when the preset cannot be read
    (the reason is under "preset")."""
    cfg = read(preset) if isinstance(preset, str) else preset
    if isinstance(cfg, ConfigError):
        return None, {"preset": cfg.reason}
    cfg = dataclasses.replace(cfg)
    errors: dict[str, str] = {}
    for name, text in values.items():
        if text.strip() == "":
            if name in OPTIONAL_FIELDS:  # empty means "not set"
                setattr(cfg, name, None)
            else:
                errors[name] = "needs a value"
            continue
        try:
            cfg = cfg.with_overrides(**{name: text})
        except ConfigError as exc:
            errors[exc.field] = exc.reason
    for name, reason in preflight_problems(cfg).items():  # device, data and combinations, with what is valid
        errors.setdefault(name, reason)
    return cfg, errors


def grid_problems(cfg: RunConfig, grid: dict[str, list[Any]], limit: int | None = GRID_CHECKED) -> dict[str, str]:
    """The first grid value of each field that makes a bad config (`1.5: must be in [0, 1]`), by field.

    Problems the config has anyway are not repeated. `limit` bounds the values looked at per field (the
    first and last always among them); None looks at all."""
    base = problems(cfg)
    out: dict[str, str] = {}
    for name, values in grid.items():
        shown = values
        if limit is not None and len(values) > limit:
            step = (len(values) - 1) / (limit - 1)
            shown = [values[round(i * step)] for i in range(limit)]
        for value in shown:
            found = {k: r for k, r in problems(dataclasses.replace(cfg, **{name: value})).items() if base.get(k) != r}
            if found:
                out[name] = f"{value_text(value)}: {found.get(name) or next(iter(found.values()))}"
                break
    return out


def _whole(name: str, text: str, errors: dict[str, str]) -> int | None:
    try:
        return int(text.strip())
    except ValueError:
        errors[name] = f"{text!r} is not a whole number"
        return None


def launch_settings(launch: dict[str, str], device: str | None, errors: dict[str, str]
                    ) -> tuple[str, QueueSettings | None, int, str]:
    """Backend, queue settings, max fused and a note (GPUs the driver does not show) from the form's text."""
    backend = launch.get("backend", "local")
    max_fused = _whole("max_fused", launch.get("max_fused", str(MAX_FUSED)), errors)
    try:
        check_max_fused(max_fused)
    except ConfigError as exc:
        errors[exc.field] = exc.reason
    if backend not in BACKENDS:
        errors["backend"] = f"unknown backend {backend!r} (choose from {', '.join(BACKENDS)})"
        return backend, None, max_fused or MAX_FUSED, ""
    if backend != "queue":
        return backend, None, max_fused or MAX_FUSED, ""
    per_gpu = _whole("per_gpu", launch.get("per_gpu", "1"), errors)
    settings, note = None, ""
    try:
        settings = settings_from(launch.get("gpus", "auto"), per_gpu if per_gpu is not None else 1,
                                 max_fused if max_fused is not None and 1 <= max_fused <= 64 else MAX_FUSED)
    except ConfigError as exc:
        errors[exc.field] = exc.reason
    if settings is not None and settings.note:
        note = settings.note  # auto found no GPU: the queue trains on the CPU, and says so
    if device is not None and device.startswith("cuda:") and device != "cuda:0":
        errors["device"] = "the queue gives each trainer the one GPU of its slot: use auto or cuda"
    return backend, settings, max_fused or MAX_FUSED, note


@dataclass
class FormReading:
    """What the form's text means: the plan (None when no preset could be read), every problem by field, and
    a note that does not keep the launch back."""

    plan: StudyPlan | None
    errors: dict[str, str]
    note: str = ""


def read_form(presets: list[str], changes: dict[str, str], launch: dict[str, str],
              read: ReadPreset = read_preset, known: list[str] | None = None,
              grid_limit: int | None = GRID_CHECKED) -> FormReading:
    """Every preset with the fields the user changed (the first preset's problems by field, the others' under
    "together"), the grid, the seeds and the backend; the plan's size is checked against MAX_RUNS ("plan")."""
    single, grid, errors = split_grid(changes)
    bases: list[RunConfig] = []
    together: list[str] = []
    for i, name in enumerate(presets):
        if i and known is not None and name not in known:
            together.append(f"{name}: unknown preset")
            continue
        cfg, found = config_from_form(name, single, read)
        if cfg is not None and not errors.keys() & grid.keys():
            for field_name, reason in grid_problems(cfg, grid, grid_limit).items():
                found.setdefault(field_name, reason)
        if i == 0:
            for field_name, reason in found.items():
                errors.setdefault(field_name, reason)
        else:
            together += [f"{name}: {f}: {r}" if f != "preset" else f"{name}: {r}" for f, r in found.items()]
        if cfg is not None:
            bases.append(cfg)
    if together:
        errors["together"] = "; ".join(together)
    seeds = None
    try:
        seeds = parse_seeds(launch.get("seeds", ""), bases[0].seed if bases else 0)
    except ConfigError as exc:
        errors["seeds"] = exc.reason
    backend, queue, max_fused, note = launch_settings(launch, bases[0].device if bases else None, errors)
    if not bases:
        return FormReading(None, errors, note)
    plan = StudyPlan([b.preset for b in bases], bases, grid, seeds, backend, queue, max_fused)
    if plan.count > MAX_RUNS:
        errors["plan"] = f"this would launch {plan.count} runs (at most {MAX_RUNS})"
    return FormReading(plan, errors, note)


def plan_problems(cfgs: list[RunConfig]) -> list[str]:
    """Every run's preflight (data, device, values), as the CLI's `study` runs it: `label: field: reason`."""
    out = []
    for cfg in cfgs:
        out += [f"{cfg.label or cfg.preset}: {f}: {r}" for f, r in preflight_problems(cfg).items()]
    return out
