"""`d`: the seed's dropout demonstrations, live: kind, p and shape in; output, zeroed fraction and scale out."""
from __future__ import annotations

import warnings

from rich.markup import escape
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Select, Static

from ...config import CONV_KINDS, ConfigError
from ...kinds import KINDS

KIND_NAMES = {k.name: k.module for k in KINDS.values()}
INPUT_SEED = 1234  # the randn input stays the same while masks are redrawn (ctrl+r changes only the mask's seed)
SHAPE_HELP = "enter 1 to 5 positive whole sizes, e.g. 2,3,4,4"
# a weight kind is shown as it acts in a network: on the weight tensor of the layer before its site
WEIGHTS_NOTE = ("the input stands for a layer's weight tensor: this kind masks single weights of the layer that "
                "computes its site (drawn afresh each forward), not the units at the site\n")


def parse_p(text: str) -> float:
    try:
        p = float(text)
    except ValueError:
        raise ConfigError("p", "enter a number in [0, 1], e.g. 0.5") from None
    if not 0 <= p <= 1:
        raise ConfigError("p", f"{text.strip()} is outside [0, 1]; enter a number in [0, 1], e.g. 0.5")
    return p


def parse_shape(text: str) -> tuple[int, ...]:
    try:
        dims = tuple(int(x) for x in text.replace("x", ",").replace(" ", ",").split(",") if x.strip())
    except ValueError:
        raise ConfigError("shape", SHAPE_HELP) from None
    if not dims or any(d <= 0 for d in dims) or len(dims) > 5:
        raise ConfigError("shape", SHAPE_HELP)
    size = 1
    for d in dims:
        size *= d
    if size > 4096:
        raise ConfigError("shape", "at most 4096 elements, to keep the output readable")
    return dims


def demonstrate(kind: str, p: float, shape: tuple[int, ...], training: bool, random_input: bool,
                mask_seed: int) -> str:
    """What the layer does to an input of this shape, as the seed shows it (imports torch).

    The input depends only on the shape (and ones/randn); `mask_seed` picks which units are dropped."""
    import torch

    from ...trainer.models import DROPOUT_CLASSES

    if random_input:
        x = torch.randn(shape, generator=torch.Generator().manual_seed(INPUT_SEED))
    else:
        x = torch.ones(shape)
    torch.manual_seed(mask_seed)
    name = f"{KIND_NAMES[kind]}(p={p})"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:  # a kind may refuse p itself (Gaussian noise has no variance at p=1)
            y = DROPOUT_CLASSES[kind](p=p).train(training)(x)
        except (RuntimeError, ValueError) as exc:
            return (f"[red]{name} on a {len(shape)}-D input {list(shape)}: {type(exc).__name__}: "
                    f"{escape(str(exc))}[/red]")
    notes = "".join(f"[yellow]warning: {escape(str(w.message))}[/yellow]\n" for w in caught)
    zeroed = float((y == 0).float().mean()) if not random_input else float(((y == 0) & (x != 0)).float().mean())
    kept = (y != 0) & (x != 0)
    scale = float((y[kept] / x[kept]).median()) if kept.any() else float("nan")
    torch.set_printoptions(precision=2, linewidth=100, threshold=200)
    expected = "inf" if p >= 1 else f"{1 / (1 - p):.3f}"
    return (f"{notes}[b]{name}[/b] in {'training' if training else 'evaluation'} mode, "
            f"input {list(shape)} of {'randn' if random_input else 'ones'}, mask #{mask_seed}\n"
            + (WEIGHTS_NOTE if KINDS[kind].weights else "") +
            f"zeroed: {zeroed:.1%} (p = {p:.0%})   kept units scaled by {scale:.3f} (1/(1-p) = {expected})   "
            f"mean in {float(x.mean()):.3f} -> out {float(y.mean()):.3f}\n\n"
            f"[b]input[/b]\n{escape(str(x))}\n\n[b]output[/b]\n{escape(str(y))}")


class InspectorScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape", "dismiss", "Close"), Binding("ctrl+t", "toggle_mode", "Train/eval"),
                Binding("ctrl+r", "resample", "New mask"), Binding("ctrl+o", "toggle_input", "ones/randn"),
                Binding("pageup", "scroll(-1)", "Scroll up", show=False),
                Binding("pagedown", "scroll(1)", "Scroll down", show=False)]
    DEFAULT_CSS = """
    InspectorScreen { align: center middle; }
    InspectorScreen > Vertical { width: 100%; height: 100%; border: round $accent; background: $surface; }
    InspectorScreen #hint { padding: 0 1; }
    InspectorScreen #inputs { height: 1; margin-bottom: 1; }
    InspectorScreen Label { padding: 0 1; }
    InspectorScreen #kind { width: 24; }
    InspectorScreen Input { width: 12; }
    InspectorScreen #scroll { height: 1fr; padding: 0 1; }
    InspectorScreen #scroll:focus { background: $boost; }
    """

    def __init__(self):
        super().__init__()
        self.training = True
        self.random_input = False
        self.mask_seed = 0
        self.torch_ready = False

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("[b]dropout inspector[/b]  ctrl+t train/eval  ctrl+r new mask  ctrl+o ones/randn  "
                         "pgup/pgdn scroll (tab to the output: up/down too)  esc close", id="hint")
            with Horizontal(id="inputs"):
                yield Label("kind")
                yield Select([(KIND_NAMES[k], k) for k in CONV_KINDS], value="dropout", allow_blank=False,
                             compact=True, id="kind")
                yield Label("p")
                yield Input("0.5", id="p", compact=True)
                yield Label("shape")
                yield Input("2,3,4,4", id="shape", compact=True)
            with VerticalScroll(id="scroll"):
                yield Static("loading torch...", id="out")

    def on_mount(self) -> None:
        self.query_one("#p", Input).focus()
        self.load_torch()

    @work(thread=True)
    def load_torch(self) -> None:
        import torch  # noqa: F401  (imported here, off the UI thread, only when the inspector opens)

        self.torch_ready = True
        try:
            self.app.call_from_thread(self.update_output)
        except RuntimeError:  # the app closed while torch loaded
            pass

    @on(Input.Changed)
    @on(Select.Changed)
    def update_output(self) -> None:
        if not self.torch_ready:
            return
        out = self.query_one("#out", Static)
        try:
            p = parse_p(self.query_one("#p", Input).value)
            shape = parse_shape(self.query_one("#shape", Input).value)
        except ConfigError as exc:
            out.update(f"[red]{escape(str(exc))}[/red]")
            return
        kind = str(self.query_one("#kind", Select).value)
        out.update(demonstrate(kind, p, shape, self.training, self.random_input, self.mask_seed))

    def action_scroll(self, pages: int) -> None:
        scroll = self.query_one("#scroll", VerticalScroll)
        scroll.scroll_page_down() if pages > 0 else scroll.scroll_page_up()

    def action_toggle_mode(self) -> None:
        self.training = not self.training
        self.update_output()

    def action_resample(self) -> None:
        self.mask_seed += 1
        self.update_output()

    def action_toggle_input(self) -> None:
        self.random_input = not self.random_input
        self.update_output()
