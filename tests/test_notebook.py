"""Names, tags and notes; filter and sort; archive and delete; the hyperparameter table: through the CLI as a user
types it, through the console by key presses, and the query language on its own."""
import asyncio
import csv
import io
import json
import os
import time
from pathlib import Path

import pytest

from conftest import cli, make_run_folder, run_paths, until
from tui_dropout.query import QueryError, filter_runs, parse_filter, sort_runs
from tui_dropout.store import RunStore, process_start_time
from tui_dropout.store.notes import read_notes



def finished(runs_dir: Path, name: str, test: float, train: float, loss: float, **config) -> Path:
    cfg = {"preset": config.pop("preset", "A"), "epochs": 10, "placement": "fc", "p_conv": 0.0, "p_fc": 0.5,
           "lr": 0.01, "seed": 0, "dataset": "digits", **config}
    return make_run_folder(runs_dir, name, {"state": "finished", "epoch": 10, "final_test_acc": test,
                                            "final_train_acc": train, "best_test_acc": test, "final_loss": loss},
                           cfg)


def running(runs_dir: Path, name: str) -> Path:
    """A run whose trainer is alive: this test process stands in for it (a proven pid and start time)."""
    return make_run_folder(runs_dir, name, {"state": "running", "epoch": 3, "pid": os.getpid(),
                                            "pid_start": process_start_time(os.getpid()), "host": os.uname().nodename,
                                            "heartbeat": time.time()})


@pytest.fixture
def study(runs_dir):
    """Four finished runs of a grid over p_fc and lr, named by their time order."""
    finished(runs_dir, "20260101-000001-A-aaaa", 0.50, 0.90, 0.9, p_fc=0.1, lr=0.01)
    finished(runs_dir, "20260101-000002-A-bbbb", 0.62, 0.70, 1.1, p_fc=0.3, lr=0.01)
    finished(runs_dir, "20260101-000003-A-cccc", 0.58, 0.60, 1.2, p_fc=0.5, lr=0.02)
    finished(runs_dir, "20260101-000004-B-dddd", 0.55, 0.99, 0.5, p_fc=0.0, lr=0.02, preset="B")
    return runs_dir


def ids(out: str) -> list[str]:
    return [word[-4:] for line in out.splitlines() for word in line.split() if word.startswith("202601")]


# ----- the query language ---------------------------------------------------------------------------
def test_filter_words_all_hold_and_a_bang_negates(study):
    infos = RunStore(study).list()
    assert [i.run_id[-4:] for i in filter_runs(infos, "p_fc>=0.3")] == ["cccc", "bbbb"]
    assert [i.run_id[-4:] for i in filter_runs(infos, "p_fc>=0.3 lr=0.01")] == ["bbbb"]
    assert [i.run_id[-4:] for i in filter_runs(infos, "!preset:A")] == ["dddd"]
    assert [i.run_id[-4:] for i in filter_runs(infos, "test>56")] == ["cccc", "bbbb"]  # percent, as lists show
    assert [i.run_id[-4:] for i in filter_runs(infos, "gap<5")] == ["cccc"]
    assert [i.run_id[-4:] for i in filter_runs(infos, "bbbb")] == ["bbbb"]  # text anywhere
    assert filter_runs(infos, "") == infos


@pytest.mark.parametrize("text, word", [("p_fc>x", "number"), ("nosuch=1", "unknown field"), ("'open", "quotation"),
                                        ("!", "negates nothing"), ("preset>A", "compare it with")])
def test_a_filter_that_cannot_be_used_names_the_word(text, word):
    with pytest.raises(QueryError, match=word):
        parse_filter(text)


def test_sorting_puts_runs_without_the_value_last(study, runs_dir):
    make_run_folder(runs_dir, "20260101-000005-A-eeee", {"state": "failed", "epoch": 0})
    infos = RunStore(study).list()
    assert [i.run_id[-4:] for i in sort_runs(infos, "test")] == ["bbbb", "cccc", "dddd", "aaaa", "eeee"]
    assert [i.run_id[-4:] for i in sort_runs(infos, "test", reverse=True)] == ["aaaa", "dddd", "cccc", "bbbb", "eeee"]
    assert [i.run_id[-4:] for i in sort_runs(infos, "loss")][:2] == ["dddd", "aaaa"]
    assert [i.run_id[-4:] for i in sort_runs(infos, "p_fc")][:3] == ["dddd", "aaaa", "bbbb"]
    with pytest.raises(QueryError, match="unknown column"):
        sort_runs(infos, "colour")


# ----- names, tags and notes --------------------------------------------------------------------------
def test_label_sets_name_tags_and_note_and_lists_show_them(study):
    r = cli("label", "bbbb", "--name", "winner", "--tag", "best", "--tag", "keep", "--note", "lowest gap",
            "--runs-dir", study)
    assert r.returncode == 0, r.stderr
    notes, problem = read_notes(study / "20260101-000002-A-bbbb" / "notes.json")
    assert notes == {"name": "winner", "tags": ["best", "keep"], "note": "lowest gap"} and problem is None
    r = cli("runs", "--runs-dir", study, env={"COLUMNS": "200"})
    line = next(line for line in r.stdout.splitlines() if "bbbb" in line)
    assert "winner" in line and "#best #keep" in line and "lowest gap" in line
    assert cli("label", "bbbb", "--untag", "keep", "--runs-dir", study).returncode == 0
    assert read_notes(study / "20260101-000002-A-bbbb" / "notes.json")[0]["tags"] == ["best"]
    r = cli("runs", "--filter", "tag:best", "--runs-dir", study)
    assert ids(r.stdout) == ["bbbb"]
    assert "bbbb" in cli("show", "winner", "--runs-dir", study).stdout  # a run is found by its name too
    assert "bbbb" in cli("show", "winn", "--runs-dir", study).stdout
    r = cli("runs", "--filter", "tag:best", "--runs-dir", study)
    assert "winner · A" in r.stdout  # the name, and beside it the label it replaced (grep finds either)
    # the Markdown export names it
    r = cli("export", "bbbb", "--format", "md", "--runs-dir", study)
    assert "winner" in r.stdout


def test_a_bad_tag_or_name_is_one_line_and_changes_nothing(study):
    r = cli("label", "bbbb", "--tag", "two words", "--runs-dir", study)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "tag:" in r.stderr
    r = cli("label", "bbbb", "--name", "x" * 200, "--runs-dir", study)
    assert r.returncode == 2 and "name: at most" in r.stderr
    assert not (study / "20260101-000002-A-bbbb" / "notes.json").exists()
    r = cli("label", "zzzz", "--tag", "t", "--runs-dir", study)
    assert r.returncode == 2 and "no run matches" in r.stderr


def test_a_damaged_notes_file_is_shown_not_raised(study):
    (study / "20260101-000002-A-bbbb" / "notes.json").write_text('{"name": 5, "tags": "x"}')
    r = cli("runs", "--runs-dir", study, env={"COLUMNS": "200"})
    assert r.returncode == 0 and "Traceback" not in r.stderr
    line = next(line for line in r.stdout.splitlines() if "bbbb" in line)
    assert "finished" in line and "notes.json" in line  # the training is whole; what is damaged is named
    (study / "20260101-000002-A-bbbb" / "notes.json").write_bytes(b"\xff\xfe")
    assert "not UTF-8" in cli("runs", "--runs-dir", study, env={"COLUMNS": "200"}).stdout
    # labelling again replaces the damaged file with a good one
    assert cli("label", "bbbb", "--tag", "fixed", "--runs-dir", study).returncode == 0
    assert read_notes(study / "20260101-000002-A-bbbb" / "notes.json") == ({"name": "", "tags": ["fixed"],
                                                                            "note": ""}, None)


@pytest.mark.slow
def test_a_study_launched_with_a_name_names_each_run_by_its_label(runs_dir):
    r = cli("study", "quick", "--seeds", "2", "--set", "epochs=1", "--set", "train_limit=128", "--name", "sweep",
            "--tag", "first", "--note", "two seeds", "--runs-dir", runs_dir, timeout=300)
    assert r.returncode == 0, r.stderr
    names = sorted(read_notes(p / "notes.json")[0]["name"] for p in run_paths(runs_dir))
    assert names == ["sweep quick seed=0", "sweep quick seed=1"]
    assert all(read_notes(p / "notes.json")[0]["tags"] == ["first"] for p in run_paths(runs_dir))


def test_a_bad_tag_at_launch_makes_no_run_folder(runs_dir):
    r = cli("train", "--preset", "quick", "--tag", "a,b", "--runs-dir", runs_dir)
    assert r.returncode == 2 and "tag:" in r.stderr
    assert run_paths(runs_dir) == []


# ----- filter and sort in `runs` -----------------------------------------------------------------------
def test_runs_filters_and_sorts_and_keeps_the_numbers_show_takes(study):
    r = cli("runs", "--filter", "p_fc>=0.3", "--sort", "test", "--runs-dir", study)
    assert r.returncode == 0, r.stderr
    assert ids(r.stdout) == ["bbbb", "cccc"]
    numbers = [line.split()[0] for line in r.stdout.splitlines()[2:]]
    assert numbers == ["3", "2"]  # positions in the newest-first list: `show 3` is bbbb
    assert "bbbb" in cli("show", "3", "--runs-dir", study).stdout
    r = cli("runs", "--filter", "p_fc>=", "--runs-dir", study)
    assert r.returncode == 2 and "filter:" in r.stderr and r.stderr.count("\n") == 1
    r = cli("runs", "--filter", "tag:none", "--runs-dir", study)
    assert r.returncode == 0 and "no runs match" in r.stdout


# ----- archive, unarchive, rm ----------------------------------------------------------------------------
def test_archive_moves_a_run_out_of_the_list_and_unarchive_brings_it_back(study):
    (study / "notes-of-mine.txt").write_text("keep me")
    r = cli("archive", "aaaa", "cccc", "--runs-dir", study)
    assert r.returncode == 0, r.stderr
    assert ids(cli("runs", "--runs-dir", study).stdout) == ["dddd", "bbbb"]
    assert ids(cli("runs", "--archived", "--runs-dir", study).stdout) == ["cccc", "aaaa"]
    assert (study / ".archive" / "20260101-000001-A-aaaa" / "config.json").exists()
    assert cli("unarchive", "aaaa", "--runs-dir", study).returncode == 0
    assert ids(cli("runs", "--runs-dir", study).stdout) == ["dddd", "bbbb", "aaaa"]
    assert (study / "notes-of-mine.txt").read_text() == "keep me"


def test_a_running_run_is_neither_archived_nor_deleted(study):
    running(study, "20260101-000009-A-live")
    for command in (["archive"], ["rm", "--yes"]):
        r = cli(*command, "live", "--runs-dir", study)
        assert r.returncode == 2 and "cancel it first" in r.stderr, r.stderr
        assert (study / "20260101-000009-A-live" / "status.json").exists()
    # with others: the stopped ones go, the running one is refused and named
    r = cli("archive", "aaaa", "live", "--runs-dir", study)
    assert r.returncode == 2 and "live" in r.stderr
    assert not (study / "20260101-000001-A-aaaa").exists()


def test_rm_names_what_goes_asks_and_deletes_only_that(study):
    r = cli("rm", "aaaa", "--runs-dir", study)  # no terminal to ask on
    assert r.returncode == 2 and "20260101-000001-A-aaaa" in r.stdout and "--yes" in r.stderr
    assert (study / "20260101-000001-A-aaaa").exists()
    before = {p.name for p in study.iterdir()} - {"20260101-000001-A-aaaa", ".index.json"}
    r = cli("rm", "aaaa", "--yes", "--runs-dir", study)
    assert r.returncode == 0 and "deleted 20260101-000001-A-aaaa" in r.stdout
    assert {p.name for p in study.iterdir()} - {".index.json"} == before


def test_rm_asks_on_a_terminal_and_no_keeps_the_run(study):
    import pty
    import subprocess
    import sys

    leader, follower = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "tui_dropout", "rm", "aaaa", "--runs-dir", str(study)],
                            stdin=follower, stdout=follower, stderr=follower)
    os.close(follower)
    seen = b""
    while b"delete?" not in seen:
        seen += os.read(leader, 1024)
    os.write(leader, b"n\n")
    assert proc.wait(timeout=60) == 1
    os.close(leader)
    assert (study / "20260101-000001-A-aaaa").exists()


# ----- the hyperparameter table ---------------------------------------------------------------------------
def test_hparams_shows_the_fields_that_vary_and_writes_csv(study, tmp_path):
    r = cli("hparams", "--runs-dir", study, env={"COLUMNS": "200"})
    assert r.returncode == 0, r.stderr
    header = r.stdout.splitlines()[0].split()
    assert header[0] == "name" and header[-3:] == ["state", "tags", "run"]  # what varies and the figures first
    assert {"preset", "p_fc", "lr"} <= set(header) and "epochs" not in header and "dataset" not in header
    assert ids(r.stdout) == ["bbbb", "cccc", "dddd", "aaaa"]  # by final test accuracy
    out = tmp_path / "hp.csv"
    assert cli("hparams", "--filter", "preset:A", "--sort", "gap", "--csv", out, "--runs-dir", study).returncode == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert [row["run"][-4:] for row in rows] == ["cccc", "bbbb", "aaaa"]
    assert float(rows[0]["test%"]) == pytest.approx(58.0) and float(rows[0]["gap"]) == pytest.approx(2.0)
    assert "preset" not in rows[0]  # one preset after the filter: it no longer varies
    r = cli("hparams", "--csv", out, "--runs-dir", study)
    assert r.returncode == 2 and "--force" in r.stderr


# ----- the console -----------------------------------------------------------------------------------------


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
def test_rm_deletes_the_stopped_runs_named_and_refuses_the_running_one(study):
    running(study, "20260101-000009-A-live")
    r = cli("rm", "aaaa", "live", "--yes", "--runs-dir", study)
    assert r.returncode == 2 and "live" in r.stderr and "cancel it first" in r.stderr
    assert "deleted 20260101-000001-A-aaaa" in r.stdout and not (study / "20260101-000001-A-aaaa").exists()
    assert (study / "20260101-000009-A-live").is_dir()


def test_a_run_folder_that_is_a_link_is_neither_archived_nor_deleted(study, tmp_path):
    target = tmp_path / "elsewhere" / "20260101-000007-A-link"
    target.parent.mkdir()
    (study / "20260101-000002-A-bbbb").rename(target)
    os.symlink(os.path.relpath(target, study), study / "20260101-000007-A-link")
    for command in (["archive"], ["rm", "--yes"]):
        r = cli(*command, "link", "--runs-dir", study)
        assert r.returncode == 2 and "is a link to" in r.stderr, r.stderr
    assert (target / "config.json").exists() and (study / "20260101-000007-A-link").is_symlink()


def test_archiving_a_run_left_waiting_by_a_dead_queue_holder_takes_it_out_of_the_queue(runs_dir):
    from tui_dropout.launch.holder import Holder
    from tui_dropout.store.queue import QueueFolder

    queue = QueueFolder(runs_dir)
    seqs = {name: queue.add(name) for name in ("20260101-000001-A-wait", "20260101-000002-A-gone")}
    for name, seq in seqs.items():  # waiting for a holder whose process is gone: lost
        make_run_folder(runs_dir, name, {"state": "queued", "backend": "queue", "queue_seq": seq, "queue_pid": 999999,
                                         "queue_pid_start": 1, "host": os.uname().nodename})
    assert cli("archive", "wait", "--runs-dir", runs_dir).returncode == 0
    assert [run_id for _, run_id in queue.waiting()] == ["20260101-000002-A-gone"]
    import shutil
    shutil.rmtree(runs_dir / "20260101-000002-A-gone")  # deleted by hand: its marker stays behind
    holder = Holder.__new__(Holder)  # only what adopt() needs: the next holder must not trip over the marker
    holder.store, holder.queue, holder.busy = RunStore(runs_dir), queue, {}
    holder.me = {"pid": os.getpid(), "pid_start": process_start_time(os.getpid()), "host": os.uname().nodename}
    holder.adopt()
    assert queue.waiting() == []


def test_a_long_launch_name_is_cut_so_each_label_stays_whole(runs_dir):
    from tui_dropout.config import load_preset
    from tui_dropout.launch import prepare

    cfgs = [load_preset("quick").with_overrides(seed=s, label=f"quick p_fc=0.3 seed={s}") for s in (0, 1)]
    groups = prepare(RunStore(runs_dir), cfgs, notes={"name": "n" * 80, "tags": [], "note": ""})
    names = [read_notes(run.path / "notes.json") for group in groups for run in group.runs]
    assert all(problem is None and len(n["name"]) <= 80 for n, problem in names)
    assert sorted(n["name"][-21:] for n, _ in names) == ["quick p_fc=0.3 seed=0", "quick p_fc=0.3 seed=1"]
    for group in groups:
        for run in group.runs:
            run.update_status(state="cancelled")


def test_a_name_with_an_escape_sequence_is_refused(study):
    r = cli("label", "bbbb", "--name", "\x1b]0;pwned\x07red", "--runs-dir", study)
    assert r.returncode == 2 and "control characters" in r.stderr


def test_the_hparams_csv_keeps_small_config_values_as_they_are(study, runs_dir):
    finished(runs_dir, "20260101-000006-A-ffff", 0.5, 0.6, 1.0, lr=1e-5)
    finished(runs_dir, "20260101-000007-A-gggg", 0.5, 0.6, 1.0, lr=3e-5)
    rows = list(csv.DictReader(io.StringIO(cli("hparams", "--csv", "-", "--runs-dir", study).stdout)))
    assert {row["lr"] for row in rows} >= {"1e-05", "3e-05"}
    assert all(row["study"] == "" and row["label"] for row in rows)


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


# ----- faults and bad input -------------------------------------------------------------------------------------
def test_a_tag_never_starts_with_a_dash_so_the_forms_minus_always_means_remove(study):
    r = cli("label", "bbbb", "--tag", "-x", "--runs-dir", study)
    assert r.returncode == 2 and "not starting with -" in r.stderr


@pytest.mark.parametrize("text", ["tag:", "state:", "preset:", "study:", "name:"])
def test_a_keyword_with_no_value_is_refused(text):
    with pytest.raises(QueryError, match="needs a value"):
        parse_filter(text)


def test_a_run_being_evaluated_is_not_resumed(study):
    import fcntl

    run = study / "20260101-000002-A-bbbb"
    (run / "checkpoint.pt").write_bytes(b"x")
    status = json.loads((run / "status.json").read_text())
    (run / "status.json").write_text(json.dumps({**status, "state": "cancelled"}))
    with open(run / ".evaluate.lock", "w") as held:  # an evaluation at work holds this
        fcntl.flock(held, fcntl.LOCK_EX)
        r = cli("resume", "bbbb", "--detach", "--runs-dir", study)
    assert r.returncode == 2 and "being evaluated" in r.stderr
    assert json.loads((run / "status.json").read_text())["state"] == "cancelled"


def test_hparams_says_what_it_leaves_out_and_an_empty_folder_is_no_error(study, tmp_path):
    (study / "20260101-000002-A-bbbb" / "config.json").write_text("{")
    r = cli("hparams", "--runs-dir", study)
    assert r.returncode == 0 and "1 damaged run left out" in r.stderr and "bbbb" not in r.stdout
    r = cli("hparams", "--runs-dir", tmp_path / "none")
    assert r.returncode == 0 and "no runs in" in r.stderr
    r = cli("hparams", "--csv", tmp_path, "--runs-dir", study)
    assert r.returncode == 2 and "is a folder; give a file name" in r.stderr and "--format" not in r.stderr


def test_label_with_no_option_names_a_damaged_notes_file(study):
    (study / "20260101-000002-A-bbbb" / "notes.json").write_text("{")
    r = cli("label", "bbbb", "--runs-dir", study)
    assert r.returncode == 0 and "notes.json is not valid JSON" in r.stdout
