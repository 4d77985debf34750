"""`n`: the new-run form. A preset picker and every hyperparameter, checked as you type; Enter launches."""
from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from ...config import (CONV_KINDS, DATASETS, EDITABLE_FIELDS, FC_KINDS, PLACEMENTS, ConfigError, RunConfig,
                       list_presets, load_preset)
from ...data import DataError, check_available
from ...preflight import preflight_problems
from ..messages import LaunchRequest

CHOICES = {"dataset": DATASETS, "placement": PLACEMENTS, "conv_kind": CONV_KINDS, "fc_kind": FC_KINDS}


def default_preset() -> str:
    """A preset that runs on this machine as it is: the seed's A when CIFAR-10 is in place, else quick."""
    try:
        check_available("cifar10", None)
        return "A"
    except DataError:
        return "quick" if "quick" in list_presets() else sorted(list_presets())[0]


OPTIONAL = ("data_dir", "train_limit")


def config_from_form(preset: str, values: dict[str, str]) -> tuple[RunConfig, dict[str, str]]:
    """The preset with the form's text applied; returns the config and {field: reason} for what is wrong."""
    cfg, errors = load_preset(preset), {}
    for name, text in values.items():
        if text.strip() == "":
            if name in OPTIONAL:
                setattr(cfg, name, None)
            else:
                errors[name] = "needs a value"
            continue
        try:
            cfg = cfg.with_overrides(**{name: text})
        except ConfigError as exc:
            errors[exc.field] = exc.reason
    if not errors:
        errors = preflight_problems(cfg)
    return cfg, errors


def _text(value) -> str:
    return "" if value is None else str(value)


class NewRunScreen(ModalScreen[LaunchRequest | None]):
    """Dismisses with the presets to launch and the fields changed from the chosen preset."""

    BINDINGS = [("escape", "dismiss(None)", "Close"), ("ctrl+l", "launch", "Launch")]
    DEFAULT_CSS = """
    NewRunScreen { align: center middle; }
    NewRunScreen > VerticalScroll { width: 100; max-width: 100%; height: 100%; border: round $accent;
                                    background: $surface; padding: 0 1; }
    NewRunScreen .row { height: 1; }
    NewRunScreen .row Label { width: 14; }
    NewRunScreen .row:focus-within { background: $boost; }
    NewRunScreen .row:focus-within Label { color: $accent; text-style: bold; }
    NewRunScreen .row Input, NewRunScreen .row Select { width: 28; }
    NewRunScreen .reason { width: 1fr; padding: 0 0 0 1; color: $error; }
    NewRunScreen #buttons { height: 3; margin-top: 1; }
    NewRunScreen #buttons Button { margin-right: 2; }
    """

    def __init__(self, preset: str | None = None, values: dict[str, str] | None = None):
        super().__init__()
        self.preset = preset or default_preset()
        self.initial = values or {}
        self.errors: dict[str, str] = {}

    def compose(self) -> ComposeResult:
        names = sorted(list_presets())
        with VerticalScroll():
            yield Static("[b]New run[/b]  enter (in a text field) or ctrl+l launches, escape closes; "
                         "fields are checked as you type\n")
            with Horizontal(classes="row"):
                yield Label("preset")
                yield Select([(n, n) for n in names], value=self.preset, allow_blank=False, id="preset", compact=True)
                yield Static("", id="e-preset", classes="reason")
            with Horizontal(classes="row"):
                yield Label("together with")
                yield Input(placeholder="other presets, e.g. B C D", id="together", compact=True)
                yield Static("", id="e-together", classes="reason")
            cfg = load_preset(self.preset)
            for name in EDITABLE_FIELDS:
                with Horizontal(classes="row"):
                    yield Label(name)
                    if name in CHOICES:
                        yield Select([(c, c) for c in CHOICES[name]], value=self.initial.get(name, getattr(cfg, name)),
                                     allow_blank=False, id=f"f-{name}", compact=True)
                    else:
                        yield Input(self.initial.get(name, _text(getattr(cfg, name))), id=f"f-{name}", compact=True)
                    yield Static("", id=f"e-{name}", classes="reason")
            with Horizontal(id="buttons"):
                yield Button("Launch (enter)", id="launch", variant="success")
                yield Button("Close (esc)", id="close")

    def on_mount(self) -> None:
        self.query_one(VerticalScroll).can_focus = False  # Tab walks the fields only, starting at the preset
        self.query_one("#preset", Select).focus()
        self.check()

    # ----- reading and checking --------------------------------------------------------------
    def values(self) -> dict[str, str]:
        out = {}
        for name in EDITABLE_FIELDS:
            widget = self.query_one(f"#f-{name}")
            out[name] = str(widget.value) if isinstance(widget, Select) else widget.value
        return out

    def changes(self) -> dict[str, str]:
        """The fields the user set away from the chosen preset: what every preset launched together gets."""
        base = load_preset(str(self.query_one("#preset", Select).value))
        return {name: text for name, text in self.values().items() if text != _text(getattr(base, name))}

    def presets(self) -> list[str]:
        extra = self.query_one("#together", Input).value.replace(",", " ").split()
        return [str(self.query_one("#preset", Select).value), *extra]

    def build(self) -> RunConfig | None:
        """The config the form describes; errors land next to their field."""
        cfg, self.errors = config_from_form(str(self.query_one("#preset", Select).value), self.values())
        available = list_presets()
        unknown = [p for p in self.presets()[1:] if p not in available]
        if unknown:
            self.errors["together"] = f"unknown preset {unknown[0]!r}"
        return None if self.errors else cfg

    def check(self) -> None:
        self.build()
        for reason in self.query(".reason"):
            field = reason.id.removeprefix("e-")
            reason.update(self.errors.get(field, ""))
        self.query_one("#launch", Button).disabled = bool(self.errors)

    @on(Input.Changed)
    def _changed(self) -> None:
        self.check()

    @on(Select.Changed)
    def _select_changed(self, event: Select.Changed) -> None:
        if event.select.id != "preset":
            self.check()
            return
        cfg = load_preset(str(event.value))
        with self.prevent(Input.Changed, Select.Changed):
            for name in EDITABLE_FIELDS:
                widget = self.query_one(f"#f-{name}")
                widget.value = getattr(cfg, name) if isinstance(widget, Select) else _text(getattr(cfg, name))
        self.check()

    # ----- leaving ----------------------------------------------------------------------------
    @on(Input.Submitted)
    def action_launch(self) -> None:
        if self.build() is None:
            self.check()
            first = next(iter(self.errors.items()))
            self.notify(f"{first[0]}: {first[1]}", severity="error")
            return
        self.dismiss(LaunchRequest(self.presets(), self.changes()))

    @on(Button.Pressed)
    def _button(self, event: Button.Pressed) -> None:
        if event.button.id == "launch":
            self.action_launch()
        else:
            self.dismiss(None)
