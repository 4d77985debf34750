"""Names, tags and notes; filter and sort; archive and delete; the hyperparameter table: through the CLI as a user
types it, and the query language on its own (the console's side is in test_notebook_console.py)."""
import csv
import io
import json
import os

import pytest

from conftest import cli, make_run_folder, run_paths
from tui_dropout.query import QueryError, filter_runs, parse_filter, sort_runs
from tui_dropout.store import RunStore, process_start_time
from tui_dropout.store.notes import read_notes
from notebook_runs import finished, ids, running, study  # noqa: F401 (study: a fixture)


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
