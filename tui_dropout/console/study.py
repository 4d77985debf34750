"""What the new-run form launches: the `Plan` (presets x grid x seeds, launch options) and its launcher, read from
the form's text the way `dropout-tui study` reads its flags (launch.plan, launch.launchers), so the form and the
CLI make the same plan. No Textual."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable

from ..config import FIELD_TYPES, OPTIONAL_FIELDS, ConfigError, RunConfig, list_presets, load_preset, problems
from ..data import DataError, check_available
from ..launch import Children, Launcher, Plan, launcher_for
from ..launch.launchers import device_problem, options_from_text
from ..launch.plan import MAX_RUNS, parse_seeds, parse_values
from ..launch.queue import CPU
from ..preflight import preflight_problems
from ..store import RunStore

GRID_KINDS = (int, float)  # number fields take a list or a range; text fields keep commas as they are
GRID_CHECKED = 400  # grid values checked on each key press (all of them at launch, off the UI thread)
TRAINERS_COUNTED = 400  # up to this many runs the form says how many trainer processes they make
# The form's launch settings and their defaults; an empty one is a flag left off (max fused: the backend's default,
# 8, or 1 on a CPU queue slot, as for `dropout-tui study`).
LAUNCH_DEFAULTS = {"seeds": "", "backend": "local", "gpus": "auto", "per_gpu": "1", "max_fused": ""}

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


def config_from_form(preset: str | RunConfig | ConfigError, values: dict[str, str], read: ReadPreset = read_preset,
                     local_device: bool = True) -> tuple[RunConfig | None, dict[str, str]]:
    """The preset with the form's text applied, and {field: reason} for everything wrong, all at once.

    `preset` is a name or what read() gave for one. The config is None when the preset cannot be read
    (the reason is under "preset"). local_device=False leaves the device to the Slurm node."""
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
    for name, reason in preflight_problems(cfg, local_device).items():  # device, data, combinations: what is valid
        errors.setdefault(name, in_form_words(reason))
    return cfg, errors


def in_form_words(reason: str) -> str:
    """A reason worded for the command line, in the form's words: a field to fill, not a flag to pass."""
    return reason.replace("or pass --data-dir", "or fill in data_dir")  # the fetch command stays: it is run in a shell


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


def shape(plan: Plan) -> str:
    """`15 runs: 5 p_fc x 3 seeds, study of D`, or `1 run of D`."""
    names = " ".join(b.preset for b in plan.bases)
    if plan.count == 1:
        return f"1 run of {names}"
    parts = [f"{len(plan.bases)} presets"] if len(plan.bases) > 1 else []
    parts += [f"{len(values)} {name}" for name, values in plan.grid.items()]
    if plan.seeds is not None:
        parts.append(f"{len(plan.seeds)} seed{'s' if len(plan.seeds) != 1 else ''}")
    return f"{plan.count} runs: {' x '.join(parts)}, study of {names}"


def where(plan: Plan, launcher: Launcher) -> str:
    """How they start: `now, 2 trainer processes`, `on the queue: 2 slots on GPU 0,1` or `as 2 Slurm jobs ...`."""
    if launcher.name == "queue":
        queue = launcher.settings
        slots = len(queue.slots())
        at = "the CPU" if queue.gpus == [CPU] else "GPU " + ",".join(queue.gpus)
        packed = queue.max_fused if plan.count > slots and queue.max_fused > 1 and plan.options.fuse else 0
        return (f"on the queue: {slots} slot{'s' if slots != 1 else ''} on {at}"
                + (f", up to {packed} runs fused a slot" if packed else ""))
    slurm = launcher.name == "slurm"
    if plan.count > TRAINERS_COUNTED:
        return (f"{'as Slurm jobs' if slurm else 'now'}, up to {plan.options.members} runs fused "
                f"{'a job' if slurm else 'a trainer process'}")
    try:
        trainers = len(plan.group_indices())
    except ConfigError:
        return "now"
    if slurm:
        partition = launcher.settings.partition
        return (f"as {trainers} Slurm job{'s' if trainers != 1 else ''} on "
                + (f"partition {partition}" if partition else "the default partition"))
    return f"now, {trainers} trainer process{'es' if trainers != 1 else ''}" + (
        " (fused)" if trainers < plan.count else "")


@dataclass
class FormReading:
    """What the form's text means: the plan (None when no preset could be read) and the launcher its options name
    (None when they are wrong), every problem by field, and a note that does not keep the launch back."""

    plan: Plan | None
    launcher: Launcher | None
    errors: dict[str, str]
    note: str = ""

    def describe(self) -> str:
        """What Enter would launch: `12 runs: 4 p_fc x 3 seeds, study of D, now, 2 trainer processes (fused)`."""
        if self.plan is None:
            return "nothing to launch: the preset cannot be read"
        return shape(self.plan) + (f", {where(self.plan, self.launcher)}" if self.launcher is not None else "")


def read_form(presets: list[str], changes: dict[str, str], launch: dict[str, str], store: RunStore | None = None,
              read: ReadPreset = read_preset, known: list[str] | None = None,
              grid_limit: int | None = GRID_CHECKED, notes: dict | None = None,
              processes: Children | None = None) -> FormReading:
    """Every preset with the fields the user changed (the first preset's problems by field, the others' under
    "together"), the grid, the seeds and the launch options, as the plan `dropout-tui study` makes of the same
    text; the plan's size is checked against MAX_RUNS ("plan"). `notes`: the name, tags and note, checked;
    `processes`: where the launcher keeps what it starts (the console's reaped list)."""
    single, grid, errors = split_grid(changes)
    options = options_from_text(launch, errors)
    local_device = options.backend != "slurm"
    bases: list[RunConfig] = []
    together: list[str] = []
    for i, name in enumerate(presets):
        if i and known is not None and name not in known:
            together.append(f"{name}: unknown preset")
            continue
        cfg, found = config_from_form(name, single, read, local_device)
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
    launcher, note = None, ""
    if "backend" not in errors:
        # every option's problem at once: the ones already named are left out while the others are checked
        usable = dataclasses.replace(options, **{name: None for name in ("per_gpu", "max_fused") if name in errors})
        try:
            launcher = launcher_for(usable, processes=processes)
        except ConfigError as exc:
            errors.setdefault(exc.field, exc.reason)
    if launcher is not None and launcher.name == "queue":
        note = launcher.settings.note  # auto found no GPU: the queue trains on the CPU, and says so
    problem = device_problem(options, bases[0]) if bases else None
    if problem:
        errors[problem[0]] = problem[1]  # before "no such GPU here": a slot's GPU is its trainer's cuda
    if not bases:
        return FormReading(None, launcher, errors, note)
    plan = Plan(store or RunStore(), bases, grid, seeds, options, notes)
    if plan.count > MAX_RUNS:
        errors["plan"] = f"this would launch {plan.count} runs (at most {MAX_RUNS})"
    return FormReading(plan, launcher, errors, note)


def plan_problems(cfgs: list[RunConfig], local_device: bool = True) -> list[str]:
    """Every run's preflight (data, device, values), as the CLI's `study` runs it: `label: field: reason`.
    local_device=False leaves the device to the Slurm node."""
    out = []
    for cfg in cfgs:
        out += [f"{cfg.label or cfg.preset}: {f}: {r}" for f, r in preflight_problems(cfg, local_device).items()]
    return out
