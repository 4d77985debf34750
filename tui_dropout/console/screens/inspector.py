"""`d`: the seed's dropout demonstrations, live: kind, p and shape in; output, zeroed fraction and scale out."""
from __future__ import annotations

from rich.markup import escape
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Select, Static

from ...config import CONV_KINDS

KIND_NAMES = {"dropout": "nn.Dropout", "dropout2d": "nn.Dropout2d", "dropout3d": "nn.Dropout3d",
              "alpha": "nn.AlphaDropout", "feature_alpha": "nn.FeatureAlphaDropout"}


def parse_shape(text: str) -> tuple[int, ...]:
    dims = tuple(int(x) for x in text.replace("x", ",").replace(" ", ",").split(",") if x.strip())
    if not dims or any(d <= 0 for d in dims) or len(dims) > 5:
        raise ValueError("shape: 1 to 5 positive sizes, e.g. 2,3,4,4")
    size = 1
    for d in dims:
        size *= d
    if size > 4096:
        raise ValueError("shape: at most 4096 elements, to keep the output readable")
    return dims


def demonstrate(kind: str, p: float, shape: tuple[int, ...], training: bool, random_input: bool, seed: int) -> str:
    """What the layer does to an input of this shape, as the seed shows it (imports torch)."""
    import torch

    from ...trainer.models import DROPOUT_CLASSES

    torch.manual_seed(seed)
    x = torch.randn(shape) if random_input else torch.ones(shape)
    layer = DROPOUT_CLASSES[kind](p=p).train(training)
    try:
        y = layer(x)
    except RuntimeError as exc:
        return f"[red]{KIND_NAMES[kind]}(p={p}) on a {len(shape)}-D input: RuntimeError: {escape(str(exc))}[/red]"
    zeroed = float((y == 0).float().mean()) if not random_input else float(((y == 0) & (x != 0)).float().mean())
    kept = (y != 0) & (x != 0)
    scale = float((y[kept] / x[kept]).median()) if kept.any() else float("nan")
    torch.set_printoptions(precision=2, linewidth=100, threshold=200)
    expected = "inf" if p >= 1 else f"{1 / (1 - p):.3f}"
    return (f"[b]{KIND_NAMES[kind]}(p={p})[/b] in {'training' if training else 'evaluation'} mode, "
            f"input {list(shape)} of {'randn' if random_input else 'ones'}\n"
            f"zeroed: {zeroed:.1%} (p = {p:.0%})   kept units scaled by {scale:.3f} (1/(1-p) = {expected})   "
            f"mean in {float(x.mean()):.3f} -> out {float(y.mean()):.3f}\n\n"
            f"[b]input[/b]\n{escape(str(x))}\n\n[b]output[/b]\n{escape(str(y))}")


class InspectorScreen(ModalScreen[None]):
    BINDINGS = [("escape", "dismiss", "Close"), ("ctrl+t", "toggle_mode", "Train/eval"),
                ("ctrl+r", "resample", "Resample"), ("ctrl+o", "toggle_input", "ones/randn")]
    DEFAULT_CSS = """
    InspectorScreen { align: center middle; }
    InspectorScreen > Vertical { width: 100%; height: 100%; border: round $accent; background: $surface; }
    InspectorScreen Horizontal { height: 3; }
    InspectorScreen Label { padding: 1 1 0 1; }
    InspectorScreen Select { width: 22; }
    InspectorScreen Input { width: 16; }
    InspectorScreen #out { height: 1fr; overflow-y: auto; padding: 0 1; }
    """

    def __init__(self):
        super().__init__()
        self.training = True
        self.random_input = False
        self.seed = 0
        self.torch_ready = False

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("[b]dropout inspector[/b]  ctrl+t train/eval, ctrl+r new mask, ctrl+o ones/randn, esc close")
            with Horizontal():
                yield Label("kind")
                yield Select([(KIND_NAMES[k], k) for k in CONV_KINDS], value="dropout", allow_blank=False, id="kind")
                yield Label("p")
                yield Input("0.5", id="p")
                yield Label("shape")
                yield Input("2,3,4,4", id="shape")
            yield Static("loading torch...", id="out")

    def on_mount(self) -> None:
        self.load_torch()

    @work(thread=True)
    def load_torch(self) -> None:
        import torch  # noqa: F401  (imported here, off the UI thread, only when the inspector opens)

        self.torch_ready = True
        self.app.call_from_thread(self.update_output)

    @on(Input.Changed)
    @on(Select.Changed)
    def update_output(self) -> None:
        if not self.torch_ready:
            return
        out = self.query_one("#out", Static)
        try:
            p = float(self.query_one("#p", Input).value)
            if not 0 <= p <= 1:
                raise ValueError("p: must be in [0, 1]")
            shape = parse_shape(self.query_one("#shape", Input).value)
        except ValueError as exc:
            message = str(exc) if ":" in str(exc) else f"p: {exc}"
            out.update(f"[red]{message}[/red]")
            return
        kind = str(self.query_one("#kind", Select).value)
        out.update(demonstrate(kind, p, shape, self.training, self.random_input, self.seed))

    def action_toggle_mode(self) -> None:
        self.training = not self.training
        self.update_output()

    def action_resample(self) -> None:
        self.seed += 1
        self.update_output()

    def action_toggle_input(self) -> None:
        self.random_input = not self.random_input
        self.update_output()
