"""`n`: the new-run form. A preset picker, every hyperparameter (a list or range in a number field makes a grid),
seeds and the backend, checked as you type, with how many runs it launches and how; Enter launches."""
from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from ...config import CONV_KINDS, DATASETS, EDITABLE_FIELDS, FC_KINDS, PLACEMENTS, ConfigError, RunConfig, list_presets
from ...launch.launchers import BACKENDS
from ...networks import NAMES as NETWORK_NAMES
from ...store.notes import NotesError, check_name, check_note, check_tags
from ..messages import LaunchRequest
from ..study import LAUNCH_DEFAULTS, FormReading, default_preset, read_form, read_preset
from ..widgets.form_select import FormSelect
from ..dialogs.confirm import ConfirmScreen

CHOICES = {"dataset": DATASETS, "network": NETWORK_NAMES, "placement": PLACEMENTS, "conv_kind": CONV_KINDS,
           "fc_kind": FC_KINDS}
HINT = ("[b]New run[/b]  [b]enter[/b] launches  esc closes  tab next  space/down opens a list\n"
        "number fields take a list 0.1,0.3 or a range 0.1..0.7:0.2: a grid of runs")
# The launch settings' rows: (field, label, placeholder); gpus and per gpu show for the queue only.
LAUNCH_ROWS = (("seeds", "seeds", "N seeds, or a list 0,5,9"), ("backend", "backend", ""),
               ("gpus", "gpus", "auto, cpu or 0,2,3"), ("per_gpu", "per gpu", "trainers at once per GPU"),
               ("max_fused", "max fused", "8, or 1 on a CPU queue"))
QUEUE_ONLY = ("gpus", "per_gpu")
# What the runs are called: (field, placeholder); kept in each run's notes.json.
NOTE_ROWS = (("name", "optional"), ("tags", "space separated"),
             ("note", "free text"))
NO_VALIDATION = ("submitted",)  # the form checks every field itself; Input's own -valid class costs a restyle a key


def _text(value) -> str:
    return "" if value is None else str(value)


class NewRunScreen(ModalScreen[LaunchRequest | None]):
    """Dismisses with the presets to launch, the fields changed from the chosen preset, the launch settings and
    the form as left. More than one run asks first, naming how many."""

    AUTO_FOCUS = "#preset"  # focused as the form opens: one focus change, not one on the scroll and another here
    BINDINGS = [Binding("escape", "dismiss(None)", "Close"), Binding("ctrl+l", "launch", "Launch"),
                Binding("enter", "launch", "Launch", show=False)]
    DEFAULT_CSS = """
    NewRunScreen { align: center middle; }
    NewRunScreen > VerticalScroll { width: 100; max-width: 100%; height: auto; max-height: 100%; border: round $accent;
                                    background: $surface; padding: 0 1;
                                    scrollbar-size-vertical: 1; }
    NewRunScreen #head { dock: top; height: auto; }
    NewRunScreen #plan { height: auto; max-height: 2; text-style: bold; background: $boost; }
    NewRunScreen #plan.problems { color: $text-error; }
    NewRunScreen .row { height: auto; }
    NewRunScreen .row Label { width: 14; }
    NewRunScreen .row Input, NewRunScreen .row Select { width: 24; }
    /* the field being edited stands out: its box in the accent colour */
    NewRunScreen .row Input:focus, NewRunScreen .row Select:focus > SelectCurrent { background: $accent 30%; }
    /* an open list stands apart from the labels behind it */
    NewRunScreen .row SelectOverlay { border: round $accent; background: $panel; }
    NewRunScreen .reason { width: 1fr; padding: 0 0 0 1; color: $error; }
    NewRunScreen .reason.note { color: $text-warning; }
    NewRunScreen #buttons { height: 3; margin-top: 1; }
    NewRunScreen #buttons Button { margin-right: 2; }
    """

    def __init__(self, form: dict[str, str] | None = None):
        super().__init__()
        self.rows = {"preset", "together", *(name for name, _ in NOTE_ROWS), *(name for name, _, _ in LAUNCH_ROWS),
                     *EDITABLE_FIELDS}
        self.reasons: dict[str, str] = {}  # what each field's reason line shows now
        self.take(form)

    def take(self, form: dict[str, str] | None) -> None:
        """The values to open with: the remembered ones (`form`: the form as last launched), the preset's for the
        rest; and nothing checked or read yet."""
        form = dict(form or {})
        names = list_presets()
        self.preset = form.pop("preset", None)
        if self.preset not in names:
            self.preset = default_preset()
        self.together = form.pop("together", "")
        self.notes_text = {name: form.pop(name, "") for name, _ in NOTE_ROWS}
        self.launch_text = {k: form.pop(k, default) for k, default in LAUNCH_DEFAULTS.items()}
        if self.launch_text["backend"] not in BACKENDS:
            self.launch_text["backend"] = "local"
        self.initial = form
        self.applied = self.preset  # the preset whose values fill the fields (its Changed on mount is not a pick)
        self.errors: dict[str, str] = {}
        self.reading: FormReading | None = None
        self.checked: dict[str, str] | None = None  # the form as last checked
        self.names = sorted(names)
        self.loaded: dict[str, RunConfig | ConfigError] = {}  # each preset read once while the form is open

    def reopen(self, form: dict[str, str] | None) -> None:
        """Open again with `form`'s values, as a new form would: the console keeps one form, built while it is idle,
        so that `n` only has to show it (building its 160 widgets is most of the cost of opening it)."""
        self.take(form)
        cfg = self.read(self.preset)
        if isinstance(cfg, ConfigError):
            cfg = RunConfig()
        texts = {"together": self.together, **self.notes_text, **self.launch_text,
                 **{f"f-{name}": self.initial.get(name, _text(getattr(cfg, name))) for name in EDITABLE_FIELDS}}
        with self.prevent(Input.Changed, Select.Changed):
            preset = self.query_one("#preset", FormSelect)
            preset.choices = tuple(self.names or [self.preset])
            preset.show(self.preset)
            for name, text in texts.items():
                widget = self.query_one(f"#{name}")
                if isinstance(widget, FormSelect):
                    widget.show(text)
                else:
                    widget.value = text
                    widget.cursor_position = len(text)
        self.show_backend()
        self.check()
        self.query_one(VerticalScroll).scroll_home(animate=False)
        self.set_focus(preset)

    def read(self, name: str) -> RunConfig | ConfigError:
        if name not in self.loaded:
            self.loaded[name] = read_preset(name)
        return self.loaded[name]

    def compose(self) -> ComposeResult:
        names = self.names or [self.preset]
        cfg = self.read(self.preset)
        if isinstance(cfg, ConfigError):
            cfg = RunConfig()  # the preset's error shows beside it; the fields start from the defaults
        with VerticalScroll(can_focus=False):  # Tab walks the fields only, starting at the preset
            with Vertical(id="head"):  # docked: the hint and how many runs, and how, stay in view as fields scroll
                yield Static(HINT, id="hint")
                yield Static("", id="plan")
            with Horizontal(classes="row"):
                yield Label("preset")
                yield FormSelect(names, self.preset, id="preset")
                yield Static("", id="e-preset", classes="reason")
            with Horizontal(classes="row"):
                yield Label("together with")
                yield Input(self.together, placeholder="other presets, e.g. B C D", id="together", compact=True, validate_on=NO_VALIDATION)
                yield Static("", id="e-together", classes="reason")
            for name, placeholder in NOTE_ROWS:
                with Horizontal(classes="row"):
                    yield Label(name)
                    yield Input(self.notes_text[name], placeholder=placeholder, id=name, compact=True, validate_on=NO_VALIDATION)
                    yield Static("", id=f"e-{name}", classes="reason")
            for name, label, placeholder in LAUNCH_ROWS:
                with Horizontal(classes="row", id=f"row-{name}"):
                    yield Label(label)
                    if name == "backend":
                        yield FormSelect(BACKENDS, self.launch_text[name], id=name)
                    else:
                        yield Input(self.launch_text[name], placeholder=placeholder, id=name, compact=True, validate_on=NO_VALIDATION)
                    yield Static("", id=f"e-{name}", classes="reason")
            for name in EDITABLE_FIELDS:
                with Horizontal(classes="row"):
                    yield Label(name)
                    text = self.initial.get(name, _text(getattr(cfg, name)))
                    if name in CHOICES:
                        yield FormSelect(CHOICES[name], text, id=f"f-{name}")
                    else:
                        yield Input(text, id=f"f-{name}", compact=True, validate_on=NO_VALIDATION)
                    yield Static("", id=f"e-{name}", classes="reason")
            with Horizontal(id="buttons"):
                yield Button("Launch (enter)", id="launch", variant="success")
                yield Button("Close (esc)", id="close")

    def on_mount(self) -> None:
        self.show_backend()
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

    def launch_values(self) -> dict[str, str]:
        """Seeds, backend, gpus, per gpu and max fused as typed."""
        return {name: str(self.query_one(f"#{name}").value) for name, _, _ in LAUNCH_ROWS}

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
        self.reading = read_form(self.presets(), self.changes(), self.launch_values(), self.app.store,
                                 read=self.read, known=self.names)
        self.errors = dict(self.reading.errors)
        try:
            self.notes()
        except NotesError as exc:
            self.errors[exc.field if exc.field in ("name", "tags", "note") else "tags"] = exc.reason
        return self.errors

    def notes(self) -> dict | None:
        """The name, tags and note typed, checked (NotesError names the field); None when all are empty."""
        typed = {name: self.query_one(f"#{name}", Input).value for name, _ in NOTE_ROWS}
        if not any(v.strip() for v in typed.values()):
            return None
        try:
            tags = check_tags(typed["tags"])
        except NotesError as exc:
            raise NotesError("tags", exc.reason) from None
        return {"name": check_name(typed["name"]), "tags": tags, "note": check_note(typed["note"])}

    def check(self, if_changed: bool = False) -> None:
        """Every field's reason beside it, and the plan line; only what changed is redrawn (this runs on every key).
        `if_changed`: only when the form differs from the last check (each field reports its first value on mount)."""
        state = self.form()
        if if_changed and state == self.checked:
            return
        self.checked = state
        self.build()
        rows = {name: text for name, text in self.errors.items() if name in self.rows}
        note = self.reading.note if "gpus" not in rows else ""
        if note:
            rows["gpus"] = note
        for name in self.reasons.keys() | rows.keys():
            if self.reasons.get(name) != rows.get(name):
                self.query_one(f"#e-{name}", Static).update(rows.get(name, ""))
        self.reasons = rows
        self.query_one("#e-gpus", Static).set_class(bool(note), "note")
        plan = self.query_one("#plan", Static)
        plan.update(self.plan_line())
        plan.set_class(bool(self.errors), "problems")
        self.query_one("#launch", Button).disabled = bool(self.errors)

    def plan_line(self) -> str:
        """`15 runs: 5 p_fc x 3 seeds, study of D, on the queue: 2 slots on GPU 0,1`, and what keeps it back."""
        line = self.reading.describe() if self.reading else "nothing to launch: the preset cannot be read"
        elsewhere = [f"{name}: {reason}" for name, reason in self.errors.items() if name not in self.rows]
        if elsewhere:  # the plan's size, or a preset's field the form has no row for
            return f"{line}; {'; '.join(elsewhere)}"
        if self.errors:
            count = len(self.errors)
            return f"{line}; fix the {count} field{'s' if count > 1 else ''} in red first"
        return line

    def show_backend(self) -> None:
        queue = str(self.query_one("#backend", Select).value) == "queue"
        for name in QUEUE_ONLY:
            self.query_one(f"#row-{name}").display = queue

    @on(Input.Changed)
    def _changed(self) -> None:
        if self.is_attached and self.query("#launch"):  # a field's first value may come before the form is whole
            self.check(if_changed=True)  # (built while the console is idle), or after it is gone (quitting)

    @on(Select.Changed)
    def _select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "preset" and str(event.value) != self.applied:
            self.applied = str(event.value)
            self.fill_from_preset(self.applied)
        if event.select.id == "backend":
            self.show_backend()
        self.check(if_changed=True)

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
        return {"preset": self.main_preset(), "together": self.query_one("#together", Input).value,
                **{name: self.query_one(f"#{name}", Input).value for name, _ in NOTE_ROWS},
                **self.launch_values(), **self.values()}

    @on(Input.Submitted)
    def action_launch(self) -> None:
        self.check()
        if self.errors:
            listed = "; ".join(f"{field}: {reason}" for field, reason in self.errors.items())
            self.notify(f"not launched: {listed}", severity="error", timeout=10)
            return
        count, what = self.reading.plan.count, self.reading.describe()
        request = LaunchRequest(self.presets(), self.changes(), self.form(), self.launch_values(),
                                count=count, what=what, notes=self.notes())
        if count == 1:
            self.dismiss(request)
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.dismiss(request)

        self.app.push_screen(ConfirmScreen(f"Launch {count} runs?\n{what}."), answered)

    @on(Button.Pressed)
    def _button(self, event: Button.Pressed) -> None:
        if event.button.id == "launch":
            self.action_launch()
        else:
            self.dismiss(None)
