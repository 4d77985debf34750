"""Charts a person can read: each series its own colour and marker, spreads and second lines dotted and fainter
under the means, the legend above the plot and never on it; side by side, panes only for runs with data."""
import copy
import json
import math
import time

import pytest
from rich.style import Style

from conftest import make_run_folder, until
from tui_dropout.console.app import DropoutConsole
from tui_dropout.console.screens.compare import CompareScreen
from tui_dropout.console.widgets.charts import MetricChart
from tui_dropout.console.widgets.legend import GREY, PALETTE, Entry, header_lines

HALF_BLOCKS = set("▀▄▖▗▘▝▚▞▌▐█▙▛▜▟")
SIZES = [(80, 24), (120, 40)]


def braille(ch: str) -> bool:
    return "\u2800" < ch <= "\u28ff"


def rows(n, train=lambda e: 0.1 + 0.05 * e, test=lambda e: 0.08 + 0.04 * e, loss0=2.0):
    return "".join(json.dumps({"epoch": e, "loss": loss0 / e, "train_acc": min(1.0, train(e)),
                               "test_acc": min(1.0, test(e))}) + "\n" for e in range(1, n + 1))


def cells(chart: MetricChart) -> tuple[list[str], list[str], dict[tuple[int, int], tuple[str, tuple | None]]]:
    """The chart as drawn: its header lines, its plot rows (inside the frame), and every plot cell's character
    and colour."""
    text = chart.render()
    lines = text.split("\n")
    plain = [line.plain for line in lines]
    top = next(i for i, line in enumerate(plain) if "┌" in line)
    bottom = next(i for i, line in enumerate(plain) if "└" in line)
    out = {}
    for y in range(top + 1, bottom):
        line = lines[y]
        colors: list[tuple | None] = [None] * len(line.plain)
        for span in line.spans:
            style = span.style if isinstance(span.style, Style) else Style.parse(str(span.style))
            if style.color is not None and style.color.triplet is not None:
                for x in range(span.start, span.end):
                    colors[x] = tuple(style.color.triplet)
        start = line.plain.index("│" if "│" in line.plain[:8] else "┤") + 1  # right of the y axis
        for x in range(start, len(line.plain) - 1):
            if line.plain[x] != " ":
                out[(y - top - 1, x)] = (line.plain[x], colors[x])  # rows counted from the plot's top
    return plain[:top], plain[top + 1:bottom], out


def colored(grid, color) -> list[str]:
    return [ch for ch, c in grid.values() if c == tuple(color)]


def run(runs_dir, name, metrics="", label=None, state="finished", epoch=12, **config):
    cfg = {"preset": "D", "epochs": 12, "placement": "fc", "p_fc": 0.5, "seed": 0, "dataset": "digits",
           **config}
    if label:
        cfg["label"] = label
    return make_run_folder(runs_dir, name, {"state": state, "epoch": epoch if metrics else 0,
                                            "created": time.time() - 100 + int(name.split("-")[1])},
                           config=cfg, metrics=metrics)


def faint_of(color, background) -> bool:
    """Whether `color` lies between `background` and the series' colour PALETTE entry it was made from."""
    return any(all(min(b, p) - 1 <= c <= max(b, p) + 1 for c, b, p in zip(color, background, base)) and
               tuple(color) != tuple(base) for base in PALETTE)


@pytest.mark.parametrize("size", SIZES)
async def test_a_lone_run_names_test_and_train_above_the_plot_and_test_stays_on_top(runs_dir, size):
    # train and test accuracy identical: the test line, drawn last, keeps every cell it has when drawn alone
    run(runs_dir, "20260101-000001-D-same", rows(12, train=lambda e: 0.05 * e, test=lambda e: 0.05 * e))
    app = DropoutConsole(runs_dir=runs_dir)
    async with app.run_test(size=size) as pilot:
        acc = app.query_one("#acc", MetricChart)
        await until(pilot, lambda: acc.points > 0 and acc.header_text, what="the accuracy chart")
        header, plot, grid = cells(acc)
        assert any("test" in line and "train" in line for line in header) or \
            ("test" in " ".join(header) and "train" in " ".join(header))
        assert not any(word in line for line in plot for word in ("test", "train"))  # the legend is off the data
        assert all(len(line) <= acc.size.width for line in header)
        test_cells = colored(grid, PALETTE[0])
        assert test_cells and all(braille(ch) for ch in test_cells)
        # drawn alone, the test line takes the same cells: the train line hides none of them
        alone = copy.deepcopy(app.watcher.series(app.screen.selected))
        alone.train_acc[:] = [math.nan] * len(alone.train_acc)
        legend = acc.legend
        acc.draw([("D", alone)])
        acc.legend = legend  # the same header: the same rows for the plot
        acc.refresh()
        await pilot.pause()
        _, _, by_itself = cells(acc)
        assert {xy for xy, (_, c) in by_itself.items() if c == PALETTE[0]} == \
            {xy for xy, (_, c) in grid.items() if c == PALETTE[0]}, "train accuracy drawn over test accuracy"
    # train above test: both lines show, train dotted in grey
    run(runs_dir, "20260101-000002-D-apart", rows(12))
    app = DropoutConsole(runs_dir=runs_dir)
    async with app.run_test(size=size) as pilot:
        acc = app.query_one("#acc", MetricChart)
        await until(pilot, lambda: app.screen.selected.endswith("apart") and acc.points > 0 and acc.header_text)
        _, _, grid = cells(acc)
        assert colored(grid, PALETTE[0]) and set(colored(grid, GREY)) == {"·"}


@pytest.mark.parametrize("size", SIZES)
async def test_two_seed_groups_overlaid_are_told_apart_with_their_spread_fainter_and_dotted(runs_dir, size):
    for i, (p, seed, shift) in enumerate([(0.1, 0, 0.0), (0.1, 1, 0.06), (0.5, 0, -0.02), (0.5, 1, 0.04)]):
        run(runs_dir, f"20260101-00000{i}-D-g{i}{i}{i}", rows(12, test=lambda e, s=shift: 0.1 + 0.05 * e + s,
                                                             loss0=2.0 + i), p_fc=p, seed=seed,
            label=f"D p_fc={p} seed={seed}", study="s1")
    app = DropoutConsole(runs_dir=runs_dir)
    async with app.run_test(size=size) as pilot:
        await until(pilot, lambda: len(app.screen.shown) == 4, what="the runs")
        await pilot.press("m", "o")  # mark the study, compare: two groups of two seeds
        await until(pilot, lambda: isinstance(app.screen, CompareScreen), what="compare")
        screen = app.screen
        for chart in screen.query("#overlay MetricChart").results(MetricChart):
            await until(pilot, lambda: chart.points > 0 and chart.header_text, what=f"the {chart.metric} chart")
            header, plot, grid = cells(chart)
            legend = " ".join(header)
            assert "0.1" in legend and "0.5" in legend and "std" in legend, header
            assert not any(word in line for line in plot for word in ("0.1", "0.5", "std", "p_fc"))
            first, second = colored(grid, PALETTE[0]), colored(grid, PALETTE[1])
            assert first and all(braille(ch) for ch in first)  # the means: thin braille, and half blocks
            assert second and all(ch in HALF_BLOCKS for ch in second)
            background = chart._background()
            spread = [(ch, c) for ch, c in grid.values() if c not in (PALETTE[0], PALETTE[1])]
            assert spread and all(ch == "·" and faint_of(c, background) for ch, c in spread), spread[:5]


async def test_a_single_group_at_80x24_has_a_legend_for_its_mean_and_spread(runs_dir):
    for seed in (0, 1):
        run(runs_dir, f"20260101-00000{seed}-D-s{seed}{seed}{seed}",
            rows(12, test=lambda e, s=seed: 0.1 + 0.05 * e + 0.03 * s), seed=seed, label=f"D seed={seed}", study="s1")
    app = DropoutConsole(runs_dir=runs_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: len(app.screen.shown) == 2, what="the runs")
        await pilot.press("m", "o")
        await until(pilot, lambda: isinstance(app.screen, CompareScreen), what="compare")
        chart = app.screen.query_one("#overlay .acc", MetricChart)
        await until(pilot, lambda: chart.points > 0 and chart.header_text, what="the chart")
        header, plot, _ = cells(chart)
        assert "mean" in " ".join(header) and "std" in " ".join(header)
        assert not any("mean" in line or "std" in line for line in plot)


@pytest.mark.parametrize("size", SIZES)
async def test_side_by_side_gives_panes_to_runs_with_data_and_names_the_waiting_ones(runs_dir, size):
    long = "D placement=fc p_fc=0.3 p_conv=0.2 lr=0.01 seed=7"  # a title wider than any pane
    run(runs_dir, "20260101-000001-D-done", rows(12), label=long, p_fc=0.3)
    run(runs_dir, "20260101-000002-D-both", rows(12, loss0=3.0), label="D p_fc=0.7", p_fc=0.7)
    for tail in ("que1", "que2"):
        run(runs_dir, f"20260101-00000{3 + (tail == 'que2')}-D-{tail}", label=f"D p_fc=0.9 {tail}", state="queued",
            p_fc=0.9, lr=0.1 if tail == "que2" else 0.01)
    app = DropoutConsole(runs_dir=runs_dir)
    async with app.run_test(size=size) as pilot:
        await until(pilot, lambda: len(app.screen.shown) == 4, what="the runs")
        for n in "1234":
            await pilot.press(n, "space")
        await until(pilot, lambda: len(app.screen.marked) == 4)
        await pilot.press("o")
        await until(pilot, lambda: isinstance(app.screen, CompareScreen), what="compare")
        screen = app.screen
        await pilot.press("o")
        await until(pilot, lambda: screen.query_one("#side").display)
        panes = lambda: [p for p in screen.query("#side .pane") if p.display]  # noqa: E731
        await until(pilot, lambda: len(panes()) == 2 and all(p.size.width > 0 for p in panes()), what="two panes")
        width = size[0]
        assert all(p.size.width >= width // 2 - 1 for p in panes())  # halves, not quarters
        waiting = str(screen.query_one("#waiting").render())
        assert "no data yet" in waiting and "que1" in waiting and "que2" in waiting and len(waiting) < width
        for chart in screen.query("#side MetricChart").results(MetricChart):
            if chart.parent.display:
                await until(pilot, lambda: chart.header_text, what="a drawn pane")
                assert all(len(line.plain) < chart.size.width for line in chart.header_text)  # cut, never run on
        titles = [c.header_text[0].plain for c in screen.query("#side .loss").results(MetricChart) if c.parent.display]
        assert any("…" in t or long in t for t in titles) and any("p_fc=0.7" in t for t in titles)
        # a waiting run that starts recording gets its pane
        (runs_dir / "20260101-000003-D-que1" / "metrics.jsonl").write_text(rows(3))
        await until(pilot, lambda: len(panes()) == 3, timeout=30, what="a third pane")
        assert "que1" not in str(screen.query_one("#waiting").render())


def test_the_header_fits_its_width_and_lines_and_keeps_every_entry_it_can():
    entries = [Entry(m, PALETTE[i], f"D p_fc=0.{i} seed=1") for i, m in enumerate(("braille", "hd", "•", "+"))]
    entries.append(Entry("dotted", GREY, "train (dotted)", "train"))
    for width in (20, 30, 38, 58, 80, 118):
        for most in (1, 2, 3):
            lines = header_lines("accuracy % by epoch", entries, width, most)
            assert 1 <= len(lines) <= most and all(line.cell_len <= width for line in lines), (width, most)
    wide = " ".join(line.plain for line in header_lines("accuracy % by epoch", entries, 118, 2))
    assert all(f"p_fc=0.{i}" in wide for i in range(4)) and "train" in wide
    # 38 cells, two lines: the values that differ, not the words they share
    narrow = " ".join(line.plain for line in header_lines("accuracy % by epoch", entries, 38, 2))
    assert all(f"0.{i}" in narrow for i in range(4)) and "seed" not in narrow
    assert header_lines("loss by epoch", [], 40, 2)[0].plain.strip() == "loss by epoch"


async def test_per_layer_lines_of_several_runs_keep_each_layer_in_the_legend_and_a_marker_per_layer(runs_dir):
    from tui_dropout.series import RunSeries

    def layered(scale):
        s = RunSeries()
        s.add([{"epoch": e, "loss": 1.0, "train_acc": 0.5, "test_acc": 0.5,
                **{f"sparsity.h{k}": scale * k / 10 for k in (1, 2, 3)}} for e in range(1, 6)])
        return s

    run(runs_dir, "20260101-000001-D-lyr1", rows(5))
    app = DropoutConsole(runs_dir=runs_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        chart = app.query_one("#acc", MetricChart)
        await until(pilot, lambda: chart.points > 0, what="a drawn chart")
        chart.metric = "sparsity"
        chart.draw([("mlp-dropout-lr.01", layered(1.0)), ("mlp-nodrop-lr.01", layered(2.0))])
        await pilot.pause()
        # colour for the run, marker for the layer: h1 has the same marker in both runs
        by_layer = {e.tail: set() for e in chart.legend}
        for e in chart.legend:
            by_layer[e.tail].add(e.marker)
        assert set(by_layer) == {"h1", "h2", "h3"} and all(len(m) == 1 for m in by_layer.values()), chart.legend
        assert len({next(iter(m)) for m in by_layer.values()}) == 3
        # a pane too narrow for whole names cuts the runs' names, never the layers
        for width in (38, 58):
            legend = " ".join(line.plain for line in header_lines(chart.title, chart.legend, width, 3))
            assert all(legend.count(f" h{k}") == 2 for k in (1, 2, 3)), (width, legend)
