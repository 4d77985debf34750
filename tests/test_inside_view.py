"""The inside view (`i`): the paper's figures 8 and 7 from each run's inside.json, side by side, and the filter pixels."""
import json
import re

from conftest import make_run_folder, until
from console_helpers import position
from tui_dropout.console.app import DropoutConsole
from tui_dropout.filters import filter_images, mosaic, scale_for, zoomed

STUDY = "20260101-000000-s2"


def hist(values, bins=4):
    top = max(values) or 1.0
    edges = [top * i / bins for i in range(bins + 1)]
    counts = [0] * bins
    for v in values:
        counts[min(bins - 1, int(v / top * bins))] += 1
    return {"edges": edges, "counts": counts}


def inside(epoch, zero, names=("conv1", "fc1")):
    layers = []
    for n, name in enumerate(names):
        acts = [0.0] * int(zero * 100) + [1.0 + n] * (100 - int(zero * 100))
        layers.append({"name": name, "units": 10, "mean": sum(acts) / 100, "zero_fraction": zero,
                       "weight_norm": 3.5 + n, "hist": hist(acts), "unit_mean_hist": hist(acts[::10])})
    filters = {"layer": "conv1", "shape": [6, 3, 5, 5],
               "values": [[(i * 7 + j) % 11 - 5.0 for j in range(75)] for i in range(6)]}
    return {"epoch": epoch, "images": 100, "layers": layers, "filters": filters}


def two_runs(runs_dir, with_inside=(True, True, False)):
    paths = []
    for i, p in enumerate((0.0, 0.5, 0.3)):
        path = make_run_folder(
            runs_dir, f"20260101-00000{i}-D-{i}aaa",
            {"state": "finished", "epoch": 2, "epochs": 2, "final_test_acc": 0.3},
            config={"preset": "D", "epochs": 2, "placement": "all", "p_fc": p, "seed": 0, "dataset": "digits",
                    "study": STUDY, "label": f"D p_fc={p}"},
            metrics=json.dumps({"epoch": 1, "loss": 2.0, "train_acc": 0.3, "test_acc": 0.3}) + "\n")
        if with_inside[i]:
            (path / "inside.json").write_text(json.dumps(inside(2, 0.1 + p)))
        paths.append(path)
    return paths


async def test_i_draws_each_marked_runs_layer_side_by_side_and_names_the_runs_without_one(runs_dir):
    from tui_dropout.console.screens.inside import InsideScreen

    two_runs(runs_dir)
    app = DropoutConsole(runs_dir=runs_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: len(app.main.shown) == 3, what="the list")
        await pilot.press("m", "i")  # the whole study: two runs with inside.json, one without
        await until(pilot, lambda: isinstance(app.screen, InsideScreen), what="the inside view")
        screen = app.screen
        assert screen.drawn == ["fc1", "fc1"]  # the last hidden layer of each
        note = str(screen.query_one("#inside-note", ).content)
        assert "not shown (1)" in note and "p_fc=0.3" in note
        heads = [str(screen.query_one(f"#inside-head-{i}").content) for i in range(2)]
        assert any("zero 10%" in h for h in heads) and any("zero 60%" in h for h in heads), heads
        assert all(h.splitlines()[1].startswith("fc1: zero ") for h in heads), heads  # the sparsity first
        first, second = (screen.query_one(f"#inside-head-{i}") for i in range(2))
        assert first.content_region.right < second.region.x  # a cut line ends before the next column begins
        await pilot.press("left")
        await until(pilot, lambda: screen.drawn == ["conv1", "conv1"], what="the earlier layer")
        await pilot.press("left")  # no layer before the first: it stays there
        assert screen.drawn == ["conv1", "conv1"]
        await pilot.press("f")
        await until(pilot, lambda: screen.has_class("filters"), what="the filters")
        mosaic_widget = screen.query_one("#inside-filters-0")
        await until(pilot, lambda: mosaic_widget.size.width > 0 and mosaic_widget.display, what="a drawn mosaic")
        drawn = mosaic_widget.render()
        assert "6 filters 3x5x5" in drawn.plain and "\u2580" in drawn.plain
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is app.main, what="back")


async def test_i_on_a_run_without_activations_says_so_and_a_damaged_file_is_named(runs_dir):
    paths = two_runs(runs_dir, with_inside=(False, False, False))
    app = DropoutConsole(runs_dir=runs_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.main.shown, what="the list")
        await pilot.press("i")
        await until(pilot, lambda: any("no activations recorded" in n.message for n in app._notifications),
                    what="the notice")
        assert app.screen is app.main
        (paths[2] / "inside.json").write_text('{"epoch": "x"}')
        await pilot.press("i")
        await until(pilot, lambda: any("inside.json: layers is not a list" in n.message for n in app._notifications),
                    what="the damaged file named")


def test_filters_are_stretched_each_on_its_own_and_laid_out_to_fit():
    grey = {"shape": [2, 1, 2, 2], "values": [[0.0, 1.0, 2.0, 3.0], [5.0, 5.0, 5.0, 5.0]]}
    first, flat = filter_images(grey["shape"], grey["values"])
    assert first == [[(0, 0, 0), (85, 85, 85)], [(170, 170, 170), (255, 255, 255)]]
    assert flat == [[(128,) * 3] * 2] * 2  # a flat filter is mid grey, not a division by zero
    colour = filter_images([1, 3, 1, 1], [[0.0, 1.0, 2.0]])
    assert colour == [[[(0, 128, 255)]]]
    grid, n = mosaic([first, flat, first], columns=5)
    assert n == 3 and len(grid) == 2 + 1 + 2  # two per row (2+1+2 columns), a gap row, then the third
    assert grid[0][2] is None and grid[2] == [None] * 5
    assert scale_for(5, 5, 130, 20, 6) == 4 and scale_for(5, 5, 80, 20, 6) == 3 and scale_for(5, 5, 40, 5, 6) == 1 and scale_for(28, 28, 80, 20, 64) == 1
    assert len(zoomed(first, 3)) == 6 and len(zoomed(first, 3)[0]) == 6


def test_a_filter_that_does_not_match_its_shape_is_named():
    import pytest

    with pytest.raises(ValueError, match="shape says 4"):
        filter_images([1, 1, 2, 2], [[1.0, 2.0]])


def test_the_report_draws_figures_8_and_7_for_each_group_with_an_inside_json(runs_dir, tmp_path):
    from conftest import cli

    two_runs(runs_dir)
    out = tmp_path / "rep"
    done = cli("report", "-o", out, "--runs-dir", runs_dir)
    assert done.returncode == 0, done.stderr
    stems = sorted(p.stem for p in (out / "figures").iterdir())
    assert "activations" in stems and "filters" in stems, stems
    figure8 = (out / "figures" / "activations.svg").read_text()
    assert "60% zero" in figure8 and "10% zero" in figure8 and "fc1" in figure8
    assert "first layer's filters" in (out / "report.md").read_text()


async def test_histogram_ticks_are_short_whole_counts_and_values_to_three_digits(runs_dir):
    from tui_dropout.console.screens.inside import InsideScreen, count_ticks

    paths = two_runs(runs_dir, with_inside=(True, False, False))
    data = inside(2, 0.5)
    for layer in data["layers"]:  # a real batch: hundreds of thousands of activations over a tiny range
        layer["hist"] = {"edges": [0.0006614294601604343 + 0.0133 * i for i in range(11)],
                         "counts": [303237] + [7] * 9}
    (paths[0] / "inside.json").write_text(json.dumps(data))
    app = DropoutConsole(runs_dir=runs_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: len(app.main.shown) == 3, what="the list")
        await pilot.press(position(app, paths[0].name[-4:]), "i")
        await until(pilot, lambda: isinstance(app.screen, InsideScreen), what="the inside view")
        plot = app.screen.query_one("#inside-acts-0")
        await until(pilot, lambda: plot.size.width > 0, what="a drawn plot")
        drawn = plot.plt.build()
        assert "300k" in drawn and "0.000661" in drawn and "0.134" in drawn, drawn
        assert "303237.0" not in drawn and "0.0006614294601604343" not in drawn
        await pilot.press("y")  # log counts: the bottom of the axis is no image at all, not 1e0
        await until(pilot, lambda: app.screen.log_counts, what="log counts")
        drawn = plot.plt.build()
        ticks = [line.split("┤")[0].strip() for line in re.sub(r"\x1b\[[0-9;]*m", "", drawn).splitlines() if "┤" in line]
        assert ticks[-1] == "0" and "1e0" not in ticks and all(t.startswith("1e") for t in ticks[:-1]), ticks
    assert count_ticks(9) == ([0.0, 2.0, 4.0, 6.0, 8.0], ["0", "2", "4", "6", "8"])
    assert count_ticks(2.5e6)[1] == ["0", "500k", "1M", "1.5M", "2M", "2.5M"]


async def test_four_runs_at_80x24_keep_their_grid_fields_and_the_layers_zeros_in_each_head(runs_dir):
    from tui_dropout.console.screens.inside import InsideScreen

    for i, p in enumerate((0.0, 0.25, 0.5, 0.75)):
        path = make_run_folder(
            runs_dir, f"20260101-00000{i}-mnist-mlp-{i}bbb", {"state": "finished", "epoch": 2, "epochs": 2},
            config={"preset": "mnist-mlp", "epochs": 2, "placement": "fc", "p_fc": p, "seed": 0, "dataset": "digits",
                    "study": STUDY, "label": f"mlp-pgrid mnist-mlp p_fc={p} seed=0"})
        (path / "inside.json").write_text(json.dumps(inside(2, 0.1 + p / 2)))
    app = DropoutConsole(runs_dir=runs_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: len(app.main.shown) == 4, what="the list")
        await pilot.press("m", "i")
        await until(pilot, lambda: isinstance(app.screen, InsideScreen), what="the inside view")
        heads = [str(app.screen.query_one(f"#inside-head-{i}").content).splitlines() for i in range(4)]
        assert all(len(h) == 2 and "p_fc=" in h[0] and h[1].startswith("fc1: zero") for h in heads), heads
        widths = [app.screen.query_one(f"#inside-head-{i}").content_size.width for i in range(4)]
        assert all(len(h[0]) <= w for h, w in zip(heads, widths)), (heads, widths)  # the name fits: no wrap
