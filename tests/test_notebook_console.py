"""Names, tags, notes, filter, sort, archive, delete and the hyperparameter table in the console, by key presses."""
import asyncio
import io
import json

from conftest import cli, until
from tui_dropout.store import RunStore
from tui_dropout.store.notes import read_notes
from notebook_runs import finished, running, study  # noqa: F401 (study: a fixture)


async def go_to(pilot, app, text: str) -> None:
    """`g`, then the text once the prompt is up (a key typed before it opens would reach the main view)."""
    await pilot.press("g")
    await until(pilot, lambda: type(app.screen).__name__ == "PromptScreen", what="the go-to prompt")
    await pilot.press(*text, "enter")


def shown(app) -> list[str]:
    return [i.run_id[-4:] for i in app.screen.shown]


def test_console_filters_as_you_type_sorts_and_goes_to_a_run(study):
    from tui_dropout.console.app import DropoutConsole

    async def drive():
        app = DropoutConsole(runs_dir=study)
        async with app.run_test(size=(100, 30)) as pilot:
            await until(pilot, lambda: len(shown(app)) == 4, what="the runs")
            await pilot.press("slash", *"p_fc>=0.3")
            await until(pilot, lambda: shown(app) == ["cccc", "bbbb"], what="the filtered list")
            assert "2 of 4 runs" in app.screen._statusline
            await pilot.press(*" lr")
            await until(pilot, lambda: app.screen.filter_text.endswith("lr"))
            before = shown(app)
            await pilot.press(">")  # half-typed: the last good filter stays while the new one is wrong
            await until(pilot, lambda: app.screen.query_one("#filter").has_class("-invalid"))
            assert shown(app) == before
            assert "lr" in str(app.screen.query_one("#filter").border_subtitle)
            await pilot.press(*"0.015")
            await until(pilot, lambda: shown(app) == ["cccc"])
            for _ in " lr>0.015":
                await pilot.press("backspace")
            await until(pilot, lambda: shown(app) == ["cccc", "bbbb"])
            await pilot.press("enter", "greater_than_sign")
            await until(pilot, lambda: app.screen.sort_by == "best" and shown(app) == ["bbbb", "cccc"])
            await pilot.press("less_than_sign")
            await until(pilot, lambda: shown(app) == ["cccc", "bbbb"])
            await pilot.press("escape")
            await until(pilot, lambda: len(shown(app)) == 4, what="the filter cleared")
            await go_to(pilot, app, "dddd")
            await until(pilot, lambda: (app.screen.selected or "").endswith("dddd"))

    asyncio.run(drive())


def test_console_labels_archives_and_deletes(study):
    from tui_dropout.console.app import DropoutConsole

    running(study, "20260101-000009-A-live")

    async def drive():
        app = DropoutConsole(runs_dir=study)
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: len(shown(app)) == 5, what="the runs")
            await go_to(pilot, app, "bbbb")
            await until(pilot, lambda: (app.screen.selected or "").endswith("bbbb"))
            await pilot.press("l")
            await until(pilot, lambda: type(app.screen).__name__ == "LabelScreen")
            await pilot.press(*"winner", "tab", *"best keep", "enter")
            await until(pilot, lambda: type(app.screen).__name__ == "MainScreen")
            path = study / "20260101-000002-A-bbbb" / "notes.json"
            assert read_notes(path)[0] == {"name": "winner", "tags": ["best", "keep"], "note": ""}
            await until(pilot, lambda: any(i.name == "winner" for i in app.screen.shown), what="the new name")
            # a label written from another terminal shows up too
            assert cli("label", "aaaa", "--tag", "elsewhere", "--runs-dir", study).returncode == 0
            await until(pilot, lambda: any("elsewhere" in i.tags for i in app.screen.shown), timeout=90,
                        what="a label from the CLI")
            # the running run is refused; the finished one goes to the archive
            await go_to(pilot, app, "live")
            await until(pilot, lambda: (app.screen.selected or "").endswith("live"))
            await pilot.press("a")
            await pilot.pause()
            assert type(app.screen).__name__ == "MainScreen" and (study / "20260101-000009-A-live").exists()
            await go_to(pilot, app, "aaaa")
            await until(pilot, lambda: (app.screen.selected or "").endswith("aaaa"))
            await pilot.press("a")
            await until(pilot, lambda: type(app.screen).__name__ == "ConfirmScreen")
            await pilot.press("y")
            await until(pilot, lambda: "aaaa" not in shown(app), what="the archived run gone from the list")
            assert (study / ".archive" / "20260101-000001-A-aaaa").is_dir()
            await go_to(pilot, app, "cccc")
            await until(pilot, lambda: (app.screen.selected or "").endswith("cccc"))
            await pilot.press("delete")
            await until(pilot, lambda: type(app.screen).__name__ == "ConfirmScreen")
            assert "20260101-000003-A-cccc" in str(app.screen.question)
            await pilot.press("y")
            await until(pilot, lambda: "cccc" not in shown(app))
            assert not (study / "20260101-000003-A-cccc").exists()

    asyncio.run(drive())


def test_console_hparams_table_sorts_exports_and_goes_to_a_run(study, tmp_path, monkeypatch):
    from tui_dropout.console.app import DropoutConsole

    monkeypatch.chdir(tmp_path)

    async def drive():
        app = DropoutConsole(runs_dir=study)
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: len(shown(app)) == 4, what="the runs")
            await pilot.press("slash", *"preset:A", "enter")
            await until(pilot, lambda: len(shown(app)) == 3)
            await pilot.press("H")
            await until(pilot, lambda: type(app.screen).__name__ == "HParamsScreen")
            screen = app.screen
            assert [i.run_id[-4:] for i in screen.sorted_infos()] == ["bbbb", "cccc", "aaaa"]
            headers = [h for _, h in screen.cols]
            assert "p_fc" in headers and "lr" in headers and "preset" not in headers
            await pilot.press("S")
            await until(pilot, lambda: [i.run_id[-4:] for i in screen.sorted_infos()] == ["aaaa", "cccc", "bbbb"])
            await pilot.press("e")
            await until(pilot, lambda: app.exports_dir.joinpath("hparams.csv").exists(), what="the CSV")
            assert len(app.exports_dir.joinpath("hparams.csv").read_text().splitlines()) == 4
            await pilot.press("down", "enter")
            await until(pilot, lambda: type(app.screen).__name__ == "MainScreen")
            await until(pilot, lambda: (app.screen.selected or "").endswith("cccc"))

    asyncio.run(drive())


EVALUATED = {"state": "finished", "dropout": True, "mc_passes": 20,
             "deterministic": {"accuracy": 0.60, "ece": 0.05, "entropy": 0.9, "nll": 1.1},
             "mc": {"accuracy": 0.62, "ece": 0.03, "entropy": 1.0, "nll": 1.0, "passes": 20}}


def test_console_details_and_compare_show_names_tags_notes_and_evaluations(study):
    from rich.console import Console

    from tui_dropout.console.app import DropoutConsole
    from tui_dropout.console.screens.compare import CompareScreen, evaluation_table, results_table
    from tui_dropout.console.widgets.details import RunDetails

    assert cli("label", "bbbb", "--name", "winner", "--tag", "best", "--note", "lowest gap",
               "--runs-dir", study).returncode == 0

    def plain(renderable) -> str:
        console = Console(width=120, record=True, file=io.StringIO())
        console.print(renderable)
        return console.export_text()

    async def drive():
        app = DropoutConsole(runs_dir=study)
        async with app.run_test(size=(120, 40)) as pilot:
            await go_to(pilot, app, "bbbb")
            details = app.screen.query_one(RunDetails)
            await until(pilot, lambda: "winner" in details.text.plain)
            assert "#best" in details.text.plain and "lowest gap" in details.text.plain
            assert "eval" not in details.text.plain
            # an evaluation that ends while the run is on screen shows up
            (study / "20260101-000002-A-bbbb" / "evaluation.json").write_text(json.dumps(EVALUATED))
            await until(pilot, lambda: "MC×20 62.0%" in details.text.plain, what="the evaluation in the details")
            assert "off→MC: ECE 5.0%→3.0%" in details.text.plain
            await pilot.press("space", "space")  # bbbb and the next run
            await pilot.press("o")
            await until(pilot, lambda: isinstance(app.screen, CompareScreen))
            assert app.screen.query_one("#evaluation").display
            table = plain(evaluation_table(app.screen.infos()))
            assert "dropout off vs MC" in table and "62.0" in table and "3.0" in table
            assert "winner" in plain(results_table(app.screen.infos()))

    asyncio.run(drive())


# ----- what a careful user found ------------------------------------------------------------------------------
def test_rm_in_the_console_needs_a_yes_enter_alone_keeps_the_run(study):
    from tui_dropout.console.app import DropoutConsole

    async def drive():
        app = DropoutConsole(runs_dir=study)
        async with app.run_test(size=(100, 30)) as pilot:
            await go_to(pilot, app, "cccc")
            await until(pilot, lambda: (app.screen.selected or "").endswith("cccc"))
            await pilot.press("delete")
            await until(pilot, lambda: type(app.screen).__name__ == "ConfirmScreen")
            await pilot.press("enter")
            await until(pilot, lambda: type(app.screen).__name__ == "MainScreen")
            assert (study / "20260101-000003-A-cccc").is_dir()
            # marks outlive a filter: the confirmation says how many it hides
            await pilot.press("space")
            await pilot.press("slash", *"preset:B", "enter")
            await until(pilot, lambda: shown(app) == ["dddd"])
            await pilot.press("space", "a")
            await until(pilot, lambda: type(app.screen).__name__ == "ConfirmScreen")
            assert "1 of them marked but hidden by the filter" in app.screen.question
            await pilot.press("n")
            await pilot.press("escape", "escape")  # the filter, then the marks
            await until(pilot, lambda: not app.screen.marked and len(shown(app)) == 4)

    asyncio.run(drive())


def test_the_hparams_screen_sorts_by_the_column_under_the_cursor_each_in_turn(study):
    from tui_dropout.console.app import DropoutConsole

    async def drive():
        app = DropoutConsole(runs_dir=study)
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: len(shown(app)) == 4)
            await pilot.press("H")
            await until(pilot, lambda: type(app.screen).__name__ == "HParamsScreen")
            screen = app.screen
            keys = [key for key, _ in screen.cols]
            for n, key in enumerate(keys):
                if n:
                    await pilot.press("right")
                await until(pilot, lambda: screen.query_one("DataTable").cursor_column == n)
                await pilot.press("s")
                await until(pilot, lambda: screen.sort_key == key, what=f"sorted by {key}")
            before = screen.descending
            await pilot.press("s")  # again: the other way
            await until(pilot, lambda: screen.sort_key == keys[-1] and screen.descending != before)
            p_fc = keys.index("config.p_fc")
            for _ in range(len(keys) - 1 - p_fc):
                await pilot.press("left")
            await pilot.press("s")
            await until(pilot, lambda: screen.sort_key == "config.p_fc")
            assert [i.run_id[-4:] for i in screen.sorted_infos()] == ["dddd", "aaaa", "bbbb", "cccc"]

    asyncio.run(drive())


def test_the_console_sees_a_label_written_before_its_first_look_at_the_run(runs_dir):
    from tui_dropout.watch import RunsWatcher

    for n in range(120):  # more than one sweep's worth: most runs wait a while for their turn
        finished(runs_dir, f"20260101-{n:06d}-A-r{n:03d}", 0.5, 0.6, 1.0)
    watcher = RunsWatcher(RunStore(runs_dir))
    watcher.refresh()
    assert cli("label", "r007", "--name", "late", "--runs-dir", runs_dir).returncode == 0
    for _ in range(200):
        watcher.refresh()
        if watcher.runs["20260101-000007-A-r007"].info.name == "late":
            break
    assert watcher.runs["20260101-000007-A-r007"].info.name == "late"


def test_a_label_of_a_two_field_grid_keeps_what_tells_its_runs_apart():
    from tui_dropout.console.labels import fit_label

    label = "quick lr=0.01 p_fc=0.3 seed=3"
    assert fit_label(label, 24) == "…lr=0.01 p_fc=0.3 seed=3"
    assert fit_label(label, 18) == "…0.01 0.3 seed=3"
    assert fit_label(label, 13) == "…0.01 0.3 s3"


def test_help_names_every_key_of_the_main_view_and_fits_80_columns():
    import re

    from tui_dropout.console.screens.help import KEYS
    from tui_dropout.console.screens.main import BINDINGS

    plain = re.sub(r"\[/?b\]", "", KEYS)
    assert max(len(line) for line in plain.splitlines()) <= 76  # inside the help's frame at 80 columns
    words = set(plain.replace(",", " ").split())
    for binding in BINDINGS:
        if binding.show:
            shown = binding.key_display or binding.key
            assert shown in words or shown.split("-")[0] in words, f"{shown} ({binding.description}) not in help"


def test_the_list_shows_the_figure_it_is_sorted_by_and_marks_the_sorted_column(runs_dir):
    """Best and final test accuracy disagree here: sorted by either, the list shows that one, in its order."""
    from tui_dropout.console.app import DropoutConsole
    from tui_dropout.console.widgets.runs_table import RunsTable

    # (final test, best test, loss): by best the order is a b c, by final c b a, by loss b a c
    for tail, final, best, loss in (("aaaa", 0.40, 0.70, 0.8), ("bbbb", 0.50, 0.60, 0.5), ("cccc", 0.55, 0.56, 0.9)):
        finished(runs_dir, f"20260101-00000{ord(tail[0]) - 96}-A-{tail}", final, 0.9, loss, p_fc=0.1)
        status = runs_dir / f"20260101-00000{ord(tail[0]) - 96}-A-{tail}" / "status.json"
        status.write_text(json.dumps({**json.loads(status.read_text()), "best_test_acc": best}))

    def screen_rows(app) -> list[str]:
        table = app.screen.query_one(RunsTable)
        return [table.render_line(y).text for y in range(4)]

    async def drive(size):
        app = DropoutConsole(runs_dir=runs_dir)
        async with app.run_test(size=size) as pilot:
            await until(pilot, lambda: len(shown(app)) == 3, what="the runs")
            header = screen_rows(app)[0]
            assert "test%" in header and "▼" not in header.replace("started▼", "")
            await pilot.press("greater_than_sign")
            await until(pilot, lambda: shown(app) == ["aaaa", "bbbb", "cccc"] and "best%▼" in screen_rows(app)[0],
                        what="sorted by best")
            assert all(want in row for row, want in zip(screen_rows(app)[1:], ("70.0", "60.0", "56.0")))
            await pilot.press("greater_than_sign")
            await until(pilot, lambda: shown(app) == ["cccc", "bbbb", "aaaa"] and "fin%▼" in screen_rows(app)[0],
                        what="sorted by final test")
            rows = screen_rows(app)[1:]
            assert all(want in row for row, want in zip(rows, ("55.0", "50.0", "40.0"))), rows
            assert not any(best in " ".join(rows) for best in ("70.0", "60.0", "56.0"))  # best test is not shown
            await pilot.press("less_than_sign")
            await until(pilot, lambda: shown(app) == ["aaaa", "bbbb", "cccc"] and "fin%▲" in screen_rows(app)[0])
            await pilot.press("greater_than_sign")
            await until(pilot, lambda: shown(app) == ["bbbb", "aaaa", "cccc"] and "loss▲" in screen_rows(app)[0],
                        what="sorted by loss")
            assert all(want in row for row, want in zip(screen_rows(app)[1:], ("0.500", "0.800", "0.900")))
            await pilot.press("greater_than_sign", "greater_than_sign")
            await until(pilot, lambda: app.screen.sort_by == "name" and "run▲" in screen_rows(app)[0])
            assert "test%" in screen_rows(app)[0]  # not a figure sort: the best test accuracy again

    for size in ((80, 24), (120, 40)):
        asyncio.run(drive(size))
