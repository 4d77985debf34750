"""`n`: the new-run form. A preset picker and every hyperparameter, checked as you type; Enter launches."""
from __future__ import annotations

import dataclasses

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from ...config import (CONV_KINDS, DATASETS, EDITABLE_FIELDS, FC_KINDS, OPTIONAL_FIELDS, PLACEMENTS, ConfigError,
                       RunConfig, list_presets, load_preset)
from ...data import DataError, check_available
from ...preflight import preflight_problems
from ..messages import LaunchRequest
from ..widgets.form_select import FormSelect

CHOICES = {"dataset": DATASETS, "placement": PLACEMENTS, "conv_kind": CONV_KINDS, "fc_kind": FC_KINDS}
HINT = ("[b]New run[/b]  [b]enter[/b] launches (from any field)  ctrl+l too  esc closes\n"
        "tab: next field  space/down: open a list  every field is checked as you type\n")


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


def config_from_form(preset: str | RunConfig | ConfigError, values: dict[str, str]
                     ) -> tuple[RunConfig | None, dict[str, str]]:
    """The preset with the form's text applied, and {field: reason} for everything wrong, all at once.

    `preset` is a name or what read_preset() gave for one. The config is None when the preset cannot be read
    (the reason is under "preset")."""
    cfg = read_preset(preset) if isinstance(preset, str) else preset
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


def _text(value) -> str:
    return "" if value is None else str(value)


class NewRunScreen(ModalScreen[LaunchRequest | None]):
    """Dismisses with the presets to launch, the fields changed from the chosen preset and the form as left."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Close"), Binding("ctrl+l", "launch", "Launch"),
                Binding("enter", "launch", "Launch", show=False)]
    DEFAULT_CSS = """
    NewRunScreen { align: center middle; }
    NewRunScreen > VerticalScroll { width: 100; max-width: 100%; height: auto; max-height: 100%; border: round $accent;
                                    background: $surface; padding: 0 1; }
    NewRunScreen .row { height: auto; }
    NewRunScreen .row Label { width: 14; }
    NewRunScreen .row Input, NewRunScreen .row Select { width: 24; }
    NewRunScreen .reason { width: 1fr; padding: 0 0 0 1; color: $error; }
    NewRunScreen #buttons { height: 3; margin-top: 1; }
    NewRunScreen #buttons Button { margin-right: 2; }
    """

    def __init__(self, form: dict[str, str] | None = None):
        super().__init__()
        form = dict(form or {})
        names = list_presets()
        self.preset = form.pop("preset", None)
        if self.preset not in names:
            self.preset = default_preset()
        self.together = form.pop("together", "")
        self.initial = form
        self.applied = self.preset  # the preset whose values fill the fields (its Changed on mount is not a pick)
        self.errors: dict[str, str] = {}
        self.names = sorted(names)
        self.loaded: dict[str, RunConfig | ConfigError] = {}  # each preset read once while the form is open

    def read(self, name: str) -> RunConfig | ConfigError:
        if name not in self.loaded:
            self.loaded[name] = read_preset(name)
        return self.loaded[name]

    def compose(self) -> ComposeResult:
        names = self.names or [self.preset]
        cfg = self.read(self.preset)
        if isinstance(cfg, ConfigError):
            cfg = RunConfig()  # the preset's error shows beside it; the fields start from the defaults
        with VerticalScroll():
            yield Static(HINT, id="hint")
            with Horizontal(classes="row"):
                yield Label("preset")
                yield FormSelect(names, self.preset, id="preset")
                yield Static("", id="e-preset", classes="reason")
            with Horizontal(classes="row"):
                yield Label("together with")
                yield Input(self.together, placeholder="other presets, e.g. B C D", id="together", compact=True)
                yield Static("", id="e-together", classes="reason")
            for name in EDITABLE_FIELDS:
                with Horizontal(classes="row"):
                    yield Label(name)
                    text = self.initial.get(name, _text(getattr(cfg, name)))
                    if name in CHOICES:
                        yield FormSelect(CHOICES[name], text, id=f"f-{name}")
                    else:
                        yield Input(text, id=f"f-{name}", compact=True)
                    yield Static("", id=f"e-{name}", classes="reason")
            with Horizontal(id="buttons"):
                yield Button("Launch (enter)", id="launch", variant="success")
                yield Button("Close (esc)", id="close")

    def on_mount(self) -> None:
        self.query_one(VerticalScroll).can_focus = False  # Tab walks the fields only, starting at the preset
        self.query_one("#preset", Select).focus()
        self.check()

    # ----- reading and checking --------------------------------------------------------------
    def main_preset(self) -> str:
        return str(self.query_one("#preset", Select).value)

    def values(self) -> dict[str, str]:
        out = {}
        for name in EDITABLE_FIELDS:
            widget = self.query_one(f"#f-{name}")
            out[name] = str(widget.value) if isinstance(widget, Select) else widget.value
        return out

    def changes(self) -> dict[str, str]:
        """The fields the user set away from the chosen preset: what every preset launched together gets."""
        base = self.read(self.main_preset())
        if isinstance(base, ConfigError):
            return self.values()
        return {name: text for name, text in self.values().items() if text != _text(getattr(base, name))}

    def presets(self) -> list[str]:
        """The chosen preset, then the "together with" ones; each once, whatever order they were typed in."""
        out = [self.main_preset()]
        for name in self.query_one("#together", Input).value.replace(",", " ").split():
            if name not in out:
                out.append(name)
        return out

    def build(self) -> dict[str, str]:
        """Every problem of the form, by field; the presets launched together are checked with the same changes."""
        _, errors = config_from_form(self.read(self.main_preset()), self.values())
        changes = self.changes()
        together = []
        for name in self.presets()[1:]:
            if name not in self.names:
                together.append(f"{name}: unknown preset")
                continue
            _, found = config_from_form(self.read(name), changes)
            together += [f"{name}: {field}: {reason}" if field != "preset" else f"{name}: {reason}"
                         for field, reason in found.items()]
        if together:
            errors["together"] = "; ".join(together)
        self.errors = errors
        return errors

    def check(self) -> None:
        """Every field's reason beside it; only the ones that changed are redrawn (this runs on every key)."""
        shown = self.errors
        self.build()
        for field in shown.keys() | self.errors.keys():
            if shown.get(field) != self.errors.get(field):
                self.query_one(f"#e-{field}", Static).update(self.errors.get(field, ""))
        self.query_one("#launch", Button).disabled = bool(self.errors)

    @on(Input.Changed)
    def _changed(self) -> None:
        self.check()

    @on(Select.Changed)
    def _select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "preset" and str(event.value) != self.applied:
            self.applied = str(event.value)
            self.fill_from_preset(self.applied)
        self.check()

    def fill_from_preset(self, name: str) -> None:
        """A preset picked: its values fill every field (a preset that cannot be read leaves them as they are)."""
        cfg = self.read(name)
        if isinstance(cfg, ConfigError):
            return
        with self.prevent(Input.Changed, Select.Changed):
            for field in EDITABLE_FIELDS:
                widget = self.query_one(f"#f-{field}")
                if isinstance(widget, FormSelect):
                    widget.show(_text(getattr(cfg, field)))
                else:
                    widget.value = _text(getattr(cfg, field))

    # ----- leaving ----------------------------------------------------------------------------
    def form(self) -> dict[str, str]:
        return {"preset": self.main_preset(), "together": self.query_one("#together", Input).value, **self.values()}

    @on(Input.Submitted)
    def action_launch(self) -> None:
        self.check()
        if self.errors:
            listed = "; ".join(f"{field}: {reason}" for field, reason in self.errors.items())
            self.notify(f"not launched: {listed}", severity="error", timeout=10)
            return
        self.dismiss(LaunchRequest(self.presets(), self.changes(), self.form()))

    @on(Button.Pressed)
    def _button(self, event: Button.Pressed) -> None:
        if event.button.id == "launch":
            self.action_launch()
        else:
            self.dismiss(None)
