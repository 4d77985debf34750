"""The console's shell: run operations without a screen, one key table behind the key bar, help and command
palette, escape as a key, and the runs folder watched off the UI thread with the newest report winning."""
import os
import threading
import time

from console_helpers import RecordingConsole, text_of
from conftest import make_run_folder, until
from tui_dropout.console import operations
from tui_dropout.console.actions import ACTIONS, BINDINGS
from tui_dropout.console.commands import MainActions
from tui_dropout.console.dialogs.confirm import ConfirmScreen
from tui_dropout.console.messages import ListChanged, RunsRefreshed
from tui_dropout.console.screens.help import KEYS, HelpScreen
from tui_dropout.console.screens.main import MainScreen
from tui_dropout.console.screens.new_run import NewRunScreen
from tui_dropout.console.widgets.runs_table import RunsTable
from tui_dropout.store import RunDir, RunStore, process_start_time
from tui_dropout.store.notes import read_notes


def finished(runs_dir, name, **status):
    return make_run_folder(runs_dir, name, {"state": "finished", "epoch": 10, "epochs": 10, **status},
                           metrics='{"epoch": 1, "loss": 1.0, "lr": 0.01, "seconds": 0.1}\n')


# ----- run operations, without Textual ------------------------------------------------------------------------------
def test_operations_ask_first_and_refuse_what_cannot_be_done(runs_dir):
    store = RunStore(runs_dir)
    done = RunDir(finished(runs_dir, "20260101-000001-A-aaaa"))
    busy = RunDir(make_run_folder(runs_dir, "20260101-000002-A-bbbb", {  # this process stands in for its trainer
        "state": "running", "pid": os.getpid(), "pid_start": process_start_time(os.getpid()),
        "host": os.uname().nodename, "heartbeat": time.time(), "group": ["20260101-000002-A-bbbb", "x"]}))
    told = operations.cancel_question(done.info())
    assert isinstance(told, operations.Told) and told.severity == "warning" and "nothing to cancel" in told.text
    infos = {info.run_id: info for info in (done.info(), busy.info())}
    refused = operations.prune_question(operations.deleting(), list(infos.values()), hidden=0, rows=20)
    assert isinstance(refused, operations.Told) and "is running: cancel it first" in refused.text
    assert "fused with 1 other run(s)" in operations.cancel_question(infos[busy.run_id])
    question = operations.prune_question(operations.archiving(store.root), [infos[done.run_id]], hidden=1, rows=20)
    assert question.startswith("Archive 1 run?") and done.run_id in question and "hidden by the filter" in question
    outcome = operations.prune_runs(operations.archiving(store.root), [infos[done.run_id]])
    assert [t.text for t in outcome.told] == ["archived 1 run"] and not done.path.exists()
    assert (runs_dir / ".archive" / done.run_id).is_dir()


def test_operations_label_and_export_tell_what_they_did(runs_dir, tmp_path):
    run = RunDir(finished(runs_dir, "20260101-000001-A-aaaa"))
    outcome = operations.label([run.info()], {"name": "baseline", "tags": ["x"], "note": "first"})
    assert outcome.touched == [run.run_id] and outcome.told[0].text == "labelled 1 run"
    assert read_notes(run.path / "notes.json")[0]["name"] == "baseline"
    exports = tmp_path / "exports"
    assert operations.export_question(run, exports) is None
    outcome = operations.export_run(run, exports)
    assert outcome.told[0].text.startswith(f"exported {run.run_id} to ") and (exports / run.run_id).is_dir()
    assert operations.export_question(run, exports).startswith(f"Replace the earlier export of {run.run_id}?")


def test_evaluating_a_run_without_a_checkpoint_is_told_not_started(runs_dir):
    run = RunDir(finished(runs_dir, "20260101-000001-A-aaaa"))
    outcome, processes = operations.evaluate([run], hidden=lambda run_id: False)
    assert processes == [] and outcome.started == [] and outcome.told[0].severity == "warning"
    assert outcome.told[0].text.startswith("cannot evaluate:")


# ----- one key table: key bar, help and palette ---------------------------------------------------------------------
def test_every_key_of_the_main_view_is_in_the_help_and_the_palette():
    assert MainScreen.BINDINGS is BINDINGS
    assert [b.key for b in BINDINGS if b.key.isdigit()] == [str(i) for i in range(1, 10)]
    plain = KEYS.replace("[b]", "").replace("[/b]", "")
    help_keys = {line.split()[0] for line in plain.splitlines() if line.startswith("  ") and line.strip()}
    for action in ACTIONS:
        assert action.shown_key in help_keys, f"{action.shown_key} ({action.word}) not in the help"
        assert action.help.split()[0] in plain
    bound = {b.action for b in BINDINGS}
    for action in ACTIONS:
        name = action.action.split("(")[0].removeprefix("app.")
        assert action.action in bound and (hasattr(MainScreen, f"action_{name}") or action.action == "app.quit")


async def test_the_palette_offers_every_key_by_name_and_runs_it(runs_dir):
    finished(runs_dir, "20260101-000001-A-aaaa")
    app = RecordingConsole(runs_dir=runs_dir)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: app.screen.query_one(RunsTable).row_count == 1, what="the run listed")
        provider = MainActions(app.screen)
        offered = [hit.text async for hit in provider.discover()]
        assert offered == [action.word for action in ACTIONS]
        found = [hit.text async for hit in provider.search("compare")]
        assert found[0] == "Compare"
        await pilot.press("ctrl+p")
        await until(pilot, lambda: app.screen.__class__.__name__ == "CommandPalette", what="the palette")
        await pilot.press(*"compare")
        await until(pilot, lambda: "Compare" in str(app.screen.query_one("CommandList").get_option_at_index(0).prompt),
                    what="Compare offered first")
        await pilot.press("enter")
        await until(pilot, lambda: app.was_told("mark two or more runs"), what="compare's own answer")


async def test_help_opens_on_question_mark_and_lists_the_table(runs_dir):
    app = RecordingConsole(runs_dir=runs_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen), what="the help")
        shown = text_of(app.screen.query_one("Static"))
        assert all(action.help.split(";")[0][:30] in " ".join(shown.split()) for action in ACTIONS[:8])


# ----- escape, and what changes the list ----------------------------------------------------------------------------
async def test_escape_clears_the_filter_then_the_marks(runs_dir):
    for i in range(3):
        finished(runs_dir, f"20260101-00000{i}-A-aaa{i}")
    app = RecordingConsole(runs_dir=runs_dir)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = app.screen
        await until(pilot, lambda: screen.query_one(RunsTable).row_count == 3, what="three runs")
        await pilot.press("space", "space")
        await until(pilot, lambda: len(screen.marked) == 2, what="two marks")
        await pilot.press("slash", *"aaa0")
        await until(pilot, lambda: len(screen.shown) == 1, what="the filter")
        await pilot.press("escape")
        await until(pilot, lambda: len(screen.shown) == 3 and not screen.query_one("#filter").display,
                    what="the filter cleared")
        assert len(screen.marked) == 2  # the marks outlive the filter
        await pilot.press("escape")
        await until(pilot, lambda: not screen.marked, what="the marks cleared")
        assert app.was_told("unmarked 2 runs")


def test_a_newer_report_replaces_a_waiting_one_that_says_no_more():
    assert RunsRefreshed("").can_replace(RunsRefreshed("progress"))
    assert RunsRefreshed("progress").can_replace(RunsRefreshed("structure"))
    assert not RunsRefreshed("structure").can_replace(RunsRefreshed("progress"))
    assert ListChanged(listing=False).can_replace(ListChanged())
    assert not ListChanged().can_replace(ListChanged(listing=False))
    assert not ListChanged(select="r1").can_replace(ListChanged())
    assert ListChanged().can_replace(ListChanged(select="r1"))


# ----- the runs folder watched off the UI thread --------------------------------------------------------------------
async def test_the_folder_is_watched_off_the_ui_thread_and_a_new_run_shows(runs_dir):
    finished(runs_dir, "20260101-000001-A-aaaa")
    app = RecordingConsole(runs_dir=runs_dir)
    threads: set[int] = set()
    refresh = app.watcher.refresh

    def recording_refresh():
        threads.add(threading.get_ident())
        return refresh()

    async with app.run_test(size=(100, 30)) as pilot:
        app.watcher.refresh = recording_refresh
        ui_thread = threading.get_ident()
        await until(pilot, lambda: threads, what="a look at the folder")
        finished(runs_dir, "20260101-000002-A-bbbb", created=time.time() + 10)
        await until(pilot, lambda: app.screen.query_one(RunsTable).row_count == 2, what="the new run listed")
        assert ui_thread not in threads


async def test_a_fault_of_the_watcher_is_told_and_watching_goes_on(runs_dir):
    finished(runs_dir, "20260101-000001-A-aaaa")
    app = RecordingConsole(runs_dir=runs_dir)
    refresh, failures = app.watcher.refresh, []

    def failing_once():
        if not failures:
            failures.append(1)
            raise RuntimeError("disk on fire")
        return refresh()

    async with app.run_test(size=(100, 30)) as pilot:
        app.watcher.refresh = failing_once
        await until(pilot, lambda: app.was_told("the runs folder cannot be watched: RuntimeError: disk on fire"),
                    what="the fault told")
        finished(runs_dir, "20260101-000002-A-bbbb", created=time.time() + 10)
        await until(pilot, lambda: app.screen.query_one(RunsTable).row_count == 2, what="watching goes on")


async def test_archiving_from_the_console_asks_then_the_list_follows(runs_dir):
    for i in range(2):
        finished(runs_dir, f"20260101-00000{i}-A-aaa{i}")
    app = RecordingConsole(runs_dir=runs_dir)
    async with app.run_test(size=(100, 30)) as pilot:
        table = app.screen.query_one(RunsTable)
        await until(pilot, lambda: table.row_count == 2, what="two runs")
        await pilot.press("a")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the question")
        await pilot.press("y")
        await until(pilot, lambda: table.row_count == 1, what="the run gone from the list")
        assert app.was_told("archived 1 run")


async def test_the_form_is_kept_and_reopens_as_a_new_one_would(runs_dir):
    app = RecordingConsole(runs_dir=runs_dir)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, NewRunScreen), what="the form")
        form = app.screen
        await until(pilot, lambda: form.query("#together"), what="its fields")
        form.query_one("#together").value = "B"
        form.query_one("#f-epochs").value = "7"
        await until(pilot, lambda: "2 runs" in text_of(form.query_one("#plan")), what="the form checked")
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, NewRunScreen), what="the form closed")
        await pilot.press("n")
        await until(pilot, lambda: app.screen is form, what="the same form shown again")
        assert form.query_one("#together").value == "" and form.query_one("#f-epochs").value != "7"
        assert "1 run of" in text_of(form.query_one("#plan")) and form.focused is form.query_one("#preset")
