"""The study's answer in the console: compare says how sure a difference between groups is."""
import json

from rich.console import Console

from conftest import make_run_folder, until
from tui_dropout.console.app import DropoutConsole
from tui_dropout.console.screens.compare import CompareScreen

STUDY = "20260101-000000-s1"


def study(runs_dir, accs=((0.30, 0.32), (0.35, 0.38))):
    for i, (p, values) in enumerate(zip((0.1, 0.5), accs)):
        for seed, acc in enumerate(values):
            rows = [{"epoch": e, "loss": 2.3 - e / 10, "train_acc": acc + 0.2, "test_acc": acc} for e in (1, 2)]
            make_run_folder(runs_dir, f"20260101-00000{i * 2 + seed}-D-{i}{seed}aa",
                            {"state": "finished", "epoch": 2, "epochs": 2, "final_test_acc": acc,
                             "final_train_acc": acc + 0.2, "best_test_acc": acc, "best_test_epoch": 2},
                            config={"preset": "D", "epochs": 2, "placement": "all", "p_fc": p, "seed": seed,
                                    "dataset": "digits", "study": STUDY, "label": f"D p_fc={p} seed={seed}"},
                            metrics="".join(json.dumps(r) + "\n" for r in rows))


async def test_compare_says_how_sure_each_groups_difference_is(runs_dir):
    study(runs_dir)
    app = DropoutConsole(runs_dir=runs_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.main.shown, what="the list")
        await pilot.press("m", "o")  # mark the study, compare it
        await until(pilot, lambda: isinstance(app.screen, CompareScreen), what="compare")
        sure = app.screen.query_one("#sureness")
        await until(pilot, lambda: sure.display, what="the differences")
        shown = rich_text(sure.content)
        assert "paired t-test (2 seeds)" in shown and "+5.5 [" in shown, shown


def rich_text(renderable) -> str:
    console = Console(width=200, record=True, file=open("/dev/null", "w"))
    console.print(renderable)
    return console.export_text()


async def test_w_shows_the_sweep_of_the_selected_runs_study(runs_dir):
    from tui_dropout.console.screens.sweep import SweepScreen

    study(runs_dir)
    app = DropoutConsole(runs_dir=runs_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.main.shown, what="the list")
        await pilot.press("w")
        await until(pilot, lambda: isinstance(app.screen, SweepScreen), what="the sweep")
        screen = app.screen
        assert screen.found.axes == ["p_fc"] and screen.plotted == 2
        table = rich_text(screen.query_one("#sweep-table").content)
        assert "31.0±1.4" in table and "36.5±2.1" in table and "2/2" in table
        assert "mean±std (n finished/all)" in table  # the title on one line, not wrapped to the table's width
        drawn = screen.query_one("#sweep-plot").plt.build()
        axis = next(line for line in drawn.splitlines()[::-1] if "0.1" in line)
        assert "0.1" in axis and "0.5" in axis and "0.3" not in axis, axis  # ticks on the swept values only
        await pilot.press("f")
        await until(pilot, lambda: screen.figure == "best_test_acc", what="the next figure")
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is app.main, what="back")


async def test_b_draws_the_stored_reliability_and_a_run_without_one_is_told(runs_dir):
    from tui_dropout.console.screens.calibration import CalibrationScreen

    study(runs_dir)
    bins = [{"bin": [b / 15, (b + 1) / 15], "count": 10 if b > 9 else 0, "confidence": (b + 0.5) / 15 if b > 9 else None,
             "accuracy": 0.7 if b > 9 else None} for b in range(15)]
    newest = sorted(p for p in runs_dir.iterdir() if p.is_dir())[-1]
    figures = {"accuracy": 0.7, "entropy": 0.5, "nll": 0.9, "ece": 0.12, "confidence": 0.8, "reliability": bins}
    (newest / "evaluation.json").write_text(json.dumps({
        "state": "finished", "mc_passes": 5, "checkpoint_epoch": 2, "test_size": 50, "dropout": True,
        "deterministic": figures, "mc": {**figures, "ece": 0.08, "passes": 5, "same_as_deterministic": False}}))
    app = DropoutConsole(runs_dir=runs_dir)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: app.main.shown, what="the list")
        assert app.main.selected == newest.name
        await pilot.press("b")
        await until(pilot, lambda: isinstance(app.screen, CalibrationScreen), what="the diagram")
        assert app.screen.drawn == [5, 5]
        assert "0.67-0.73" in rich_text(app.screen.query_one("#cal-table").content)
        await pilot.press("escape", "down")
        await until(pilot, lambda: app.screen is app.main and app.main.selected != newest.name, what="another run")
        await pilot.press("b")
        await until(pilot, lambda: any("no finished evaluation" in n.message for n in app._notifications),
                    what="the notice")
