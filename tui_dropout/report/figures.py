"""A report's figures as SVG text, drawn with matplotlib (the `report` extra; the console never imports this):
learning curves with their seed spread, the sweep, the reliability diagrams."""
from __future__ import annotations

import io
import math
from typing import Any

from ..safetext import safe
from ..sweep import SWEEP_FIGURES, Sweep
from .content import Content, Curve, Reliability

MISSING_EXTRA = "report: matplotlib is not installed (pip install 'dropout-tui[report]')"


def _text(value: Any) -> str:
    """Run-folder text as a matplotlib label: escapes visible, and no `$` read as mathtext."""
    return safe(value).replace("$", r"\$")


def _figure(width: float, height: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _svg(fig) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None})
    text = buf.getvalue()
    return text[text.index("<svg"):]  # inline in HTML: no XML prolog or doctype


def _band(ax, curve: Curve, scale: float, color, label: str, style: str = "-") -> None:
    xs = curve.epochs
    mean = [m * scale for m in curve.mean]
    ax.plot(xs, mean, style, color=color, label=label, linewidth=1.6)
    if curve.n > 1:
        ax.fill_between(xs, [(m - s) * scale for m, s in zip(curve.mean, curve.std)],
                        [(m + s) * scale for m, s in zip(curve.mean, curve.std)], color=color, alpha=0.18,
                        linewidth=0)


def curves(content: Content) -> str | None:
    """Test (solid) and train (dashed) accuracy and the training loss per group: the mean over finished seeds,
    the band one sample std either side."""
    drawn = [g for g in content.groups if content.curves[g.name]["loss"].epochs]
    if not drawn:
        return None
    fig = _figure(10, 4.2)
    acc_ax, loss_ax = fig.subplots(1, 2)
    for i, g in enumerate(drawn):
        color = f"C{i % 10}"
        c = content.curves[g.name]
        name = f"{_text(g.name)} (n={c['loss'].n})"
        if c["test_acc"].epochs:
            _band(acc_ax, c["test_acc"], 100, color, name)
        if c["train_acc"].epochs:
            _band(acc_ax, c["train_acc"], 100, color, "_", "--")
        _band(loss_ax, c["loss"], 1, color, name)
    acc_ax.set(title="accuracy % (test solid, train dashed)", xlabel="epoch", ylabel="%")
    loss_ax.set(title="training loss", xlabel="epoch", ylabel="loss")
    from matplotlib.ticker import MaxNLocator

    for ax in (acc_ax, loss_ax):
        ax.grid(alpha=0.3)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole
    fig.legend(*acc_ax.get_legend_handles_labels(), loc="outside lower center", ncols=min(4, len(drawn)),
               fontsize="small", frameon=False)
    return _svg(fig)


def sweep_plot(found: Sweep, figure: str = "final_test_acc") -> str | None:
    """The figure against the swept field: one point per group, bars one sample std; a second swept field
    draws one line per value; a field that is not a number is a category axis."""
    points = [p for p in found.points if p.figures[figure].mean is not None]
    if not found.axes or len(points) < 2:
        return None
    fig = _figure(6.5, 4)
    ax = fig.subplots()
    x_axis = found.axes[0]
    numeric = all(isinstance(p.values[x_axis], (int, float)) and not isinstance(p.values[x_axis], bool)
                  for p in points)
    categories = list(dict.fromkeys(str(p.values[x_axis]) for p in points))
    lines: dict[str, list] = {}
    for p in points:
        key = ", ".join(f"{_text(a)}={_text(p.values[a])}" for a in found.axes[1:]) or "_"
        lines.setdefault(key, []).append(p)
    for i, (key, members) in enumerate(lines.items()):
        xs = [p.values[x_axis] if numeric else categories.index(str(p.values[x_axis])) for p in members]
        ys = [p.figures[figure].mean * 100 for p in members]
        errs = [(p.figures[figure].std or 0.0) * 100 for p in members]
        ax.errorbar(xs, ys, yerr=errs, fmt="o-", capsize=4, color=f"C{i % 10}", label=key)
    if not numeric:
        ax.set_xticks(range(len(categories)), [_text(c) for c in categories])
    ax.set(title=f"{SWEEP_FIGURES[figure]} against {_text(x_axis)} (mean ± std over seeds)", xlabel=_text(x_axis),
           ylabel=SWEEP_FIGURES[figure])
    ax.grid(alpha=0.3)
    if len(lines) > 1:
        ax.legend(fontsize="small", frameon=False)
    return _svg(fig)


def reliability(name: str, table: Reliability) -> str:
    """Accuracy against confidence per bin, dropout off beside MC dropout; the diagonal is perfect calibration,
    the numbers over the bars how many test images a bin holds."""
    fig = _figure(9, 3.8)
    axes = fig.subplots(1, 2, sharey=True)
    for ax, rows, title in ((axes[0], table.off, "dropout off"),
                            (axes[1], table.mc, f"MC dropout x{table.mc_passes}" if table.mc_passes else "MC dropout")):
        lefts = [b[0] for b in table.bins]
        widths = [b[1] - b[0] for b in table.bins]
        accs = [r["accuracy"] or 0.0 for r in rows]
        ax.bar(lefts, accs, width=widths, align="edge", color="C0", alpha=0.75, edgecolor="white", label="accuracy")
        confs = [(b[0] + b[1]) / 2 if r["confidence"] is None else r["confidence"] for b, r in zip(table.bins, rows)]
        ax.plot([0, 1], [0, 1], "--", color="gray", linewidth=1, label="perfect calibration")
        ax.plot([c for c, r in zip(confs, rows) if r["count"]], [a for a, r in zip(accs, rows) if r["count"]], ".",
                color="C3", label="mean confidence")
        total = sum(r["count"] for r in rows) or 1
        ece = sum(r["count"] / total * abs((r["accuracy"] or 0) - (r["confidence"] or 0)) for r in rows if r["count"])
        ax.set(title=f"{title}: ECE {ece * 100:.1f}%", xlabel="confidence", xlim=(0, 1), ylim=(0, 1))
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("accuracy")
    axes[1].legend(fontsize="small", frameon=False, loc="upper left")
    fig.suptitle(f"{_text(name)}: reliability over {table.runs} evaluated run{'s' if table.runs != 1 else ''}")
    return _svg(fig)


MAX_INSIDE = 6  # groups side by side in the inside figures


def _hist(ax, hist, color: str, mean: float = math.nan) -> None:
    ax.stairs(hist.counts, hist.edges, fill=True, color=color, alpha=0.8)
    if math.isfinite(mean):
        ax.axvline(mean, color="C3", linestyle="--", linewidth=1)
    ax.grid(alpha=0.3)


def activations(content: Content) -> str | None:
    """The paper's figure 8, one column per group: each hidden unit's mean activation (top, the dashed line its
    mean) and every activation (bottom, log counts: the zeros dwarf the rest), for the last hidden layer on the
    fixed test batch with dropout off."""
    shown = [(name, found) for name, found in content.inside.items() if found[1].layers][:MAX_INSIDE]
    if not shown:
        return None
    fig = _figure(3.2 * len(shown) + 0.6, 5.2)
    axes = fig.subplots(2, len(shown), squeeze=False)
    for i, (name, (run_id, inside)) in enumerate(shown):
        layer = inside.layers[-1]
        head = f"{_text(name)}\n{_text(layer.name)}"
        if math.isfinite(layer.zero_fraction):
            head += f": {layer.zero_fraction * 100:.0f}% zero"
        _hist(axes[0][i], layer.unit_mean_hist, f"C{i % 10}", layer.mean)
        axes[0][i].set_title(head, fontsize="small")
        _hist(axes[1][i], layer.hist, f"C{i % 10}")
        axes[1][i].set_yscale("symlog", linthresh=1)
        axes[1][i].set_xlabel("activation")
    axes[0][0].set_ylabel("units (by mean activation)")
    axes[1][0].set_ylabel("activations (log)")
    return _svg(fig)


def filter_plot(content: Content) -> str | None:
    """The paper's figure 7: each group's first-layer filters, each stretched over its own range."""
    from ..filters import filter_images, mosaic

    shown = [(name, inside.filters) for name, (_, inside) in content.inside.items() if inside.filters][:MAX_INSIDE]
    if not shown:
        return None
    fig = _figure(3.2 * len(shown) + 0.4, 3.4)
    axes = fig.subplots(1, len(shown), squeeze=False)[0]
    for ax, (name, filters) in zip(axes, shown):
        images = filter_images(filters.shape, filters.values)
        w = len(images[0][0]) if images else 1
        grid, _ = mosaic(images, columns=max(w, 8 * (w + 1) - 1))  # eight filters a row
        ax.imshow([[p if p is not None else (255, 255, 255) for p in row] for row in grid], interpolation="nearest")
        ax.set_title(f"{_text(name)}\n{_text(filters.layer)}", fontsize="small")
        ax.set_axis_off()
    return _svg(fig)


def all_figures(content: Content) -> dict[str, tuple[str, str]]:
    """file stem -> (caption, SVG), in the report's order."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise RuntimeError(MISSING_EXTRA) from None
    out: dict[str, tuple[str, str]] = {}
    svg = curves(content)
    if svg:
        out["curves"] = ("Learning curves: each group's mean over its finished seeds, the band one sample std", svg)
    svg = sweep_plot(content.found)
    if svg:
        out["sweep"] = (f"Final test accuracy against {', '.join(map(_text, content.found.axes))}", svg)
    svg = activations(content)
    if svg:
        out["activations"] = ("Inside the network (last hidden layer, dropout off, fixed test batch): each unit's "
                              "mean activation above, every activation below", svg)
    svg = filter_plot(content)
    if svg:
        out["filters"] = ("The first layer's filters of each group", svg)
    for i, (name, table) in enumerate(content.reliability.items()):
        out[f"reliability-{i + 1}"] = (f"Reliability of {safe(name)}: dropout off and MC dropout", reliability(name, table))
    return out
