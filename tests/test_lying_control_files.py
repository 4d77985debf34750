"""Control files that lie: the listing index, a holder's record, a waiting run's folder gone, a config edited
out of range. Each is named or ignored; none crashes a reader or costs another run."""
import json
import socket
import time

import pytest
from typer.testing import CliRunner

from conftest import cli, make_run_folder, settle, until, wait_for
from tui_dropout.cli.main import app as cli_app
from tui_dropout.console.app import DropoutConsole
from tui_dropout.console.widgets.runs_table import RunsTable
from tui_dropout.store import RunStore

RUN_ID = "20261126-093012-A-3f9c"
runner = CliRunner()

# A cached field given a value of the wrong type, as a hand-edited or damaged .index.json would hold it.
LIES = [
    {"created": "yesterday"}, {"epoch": "3"}, {"epochs": 2.5}, {"best_test_acc": "high"}, {"tags": "abc"},
    {"tags": [1, 2]}, {"state": 5}, {"state": "exploded"}, {"status": "x"}, {"config": []}, {"name": ["x"]},
    {"config": {"preset": "A", "p_fc": "half", "epochs": 10}}, {"status": {"state": "running", "pid": "x"}},
    {"elapsed": float("nan")}, {"problem": 3}, {"best_test_acc": 10**400}, {"created": 10**400},
]


def finished_run(runs_dir):
    path = make_run_folder(runs_dir, RUN_ID, {"state": "finished", "epoch": 10, "epochs": 10, "best_test_acc": 0.61,
                                               "best_test_epoch": 9, "ended": time.time()})
    (path / "summary.json").write_text(json.dumps({"state": "finished", "best_test_acc": 0.61, "epochs_done": 10}))
    return settle(path)


def tamper_index(runs_dir, lie):
    """The run's cached values given `lie`, where the index keeps them: a field's column, a table's column
    (moved out of the shared values), or a table kept whole."""
    path = runs_dir / ".index.json"
    data = json.loads(path.read_text())
    i = data["ids"].index(RUN_ID)
    assert data["stamps"][i] is not None  # the run is served from the index: the lie would be believed
    for name, value in lie.items():
        if name not in ("status", "config"):
            column = data["fields"][name]
            if isinstance(column, dict):  # written compactly: one value for most runs, the others named
                column["except"][str(i)] = value
            else:
                column[i] = value
        elif isinstance(value, dict):
            table = data["tables"][name]
            for key, v in value.items():
                column = table["columns"].setdefault(key, [table["same"].pop(key, None)] * len(data["ids"]))
                column[i] = v
                table["keys"] += [] if key in table["keys"] else [key]
        else:
            data["tables"][name]["whole"][str(i)] = value
    path.write_text(json.dumps(data))


def indexed(runs_dir, name):
    data = json.loads((runs_dir / ".index.json").read_text())
    column, i = data["fields"][name], data["ids"].index(RUN_ID)
    return column["except"].get(str(i), column["all"]) if isinstance(column, dict) else column[i]


@pytest.mark.parametrize("lie", LIES, ids=lambda lie: next(iter(lie)) + "=" + repr(next(iter(lie.values())))[:12])
async def test_an_index_entry_of_the_wrong_type_is_ignored_and_rebuilt_from_the_runs_files(runs_dir, lie):
    finished_run(runs_dir)
    assert RunStore(runs_dir).list()[0].best_test_acc == 0.61  # the listing writes the index
    tamper_index(runs_dir, lie)
    for args in (["runs"], ["show", "1"], ["hparams"]):
        result = runner.invoke(cli_app, [*args, "--runs-dir", str(runs_dir)])
        assert result.exit_code == 0 and result.exception is None, (args, result.output, result.exception)
        assert "finished" in result.output or "0.61" in result.output or "61" in result.output, (args, result.output)
    assert isinstance(indexed(runs_dir, "created"), float) and indexed(runs_dir, "state") == "finished" \
        and indexed(runs_dir, "tags") == []  # rebuilt
    tamper_index(runs_dir, lie)
    app = DropoutConsole(runs_dir=runs_dir)
    async with app.run_test(size=(120, 30)) as pilot:
        await until(pilot, lambda: app.screen.query(RunsTable) and app.screen.query_one(RunsTable).row_count == 1,
                    what="the run listed")
        info = RunStore(runs_dir).list()[0]
        assert info.state == "finished" and info.best_test_acc == 0.61 and isinstance(info.created, float)
    assert app.return_code in (0, None)


@pytest.fixture(scope="module")
def stopped_run(tmp_path_factory):
    """A run trained for two epochs of six and stopped: resumable, with a checkpoint."""
    import threading

    from conftest import tiny_config
    from tui_dropout.trainer.engine import Trainer

    root = tmp_path_factory.mktemp("stopped") / "runs"
    run = RunStore(root).create(tiny_config(epochs=6, checkpoint_every=1).to_dict())
    stop = threading.Event()
    assert Trainer([run], stop=stop, progress=lambda e: e["kind"] == "epoch" and e["epoch"] >= 2 and stop.set()
                   ).run() == ["cancelled"]
    return run.path


def folder_bytes(path):
    return {p.relative_to(path): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("edit,field", [({"epochs": -1}, "epochs"), ({"batch_size": 1e12}, "batch_size"),
                                        ({"p_fc": 5}, "p_fc"), ({"lr": float("nan")}, "lr"),
                                        ({"warp_speed": 9}, "warp_speed"), ({"epochs": "ten"}, "epochs"),
                                        ({"device": "cuda:99"}, "device")])
def test_a_config_edited_out_of_range_is_refused_by_resume_and_the_run_is_left_as_it_was(
        stopped_run, tmp_path, edit, field):
    import shutil

    from conftest import cli

    runs = tmp_path / "runs"
    path = runs / stopped_run.name
    shutil.copytree(stopped_run, path)
    config = json.loads((path / "config.json").read_text())
    (path / "config.json").write_text(json.dumps({**config, **edit}))  # NaN is written as bare NaN, as json does
    before = folder_bytes(path)
    out = cli("resume", stopped_run.name, "--runs-dir", runs)
    assert out.returncode == 2, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "config.json" in lines[0] and field in lines[0] and "Traceback" not in out.stderr, lines
    assert folder_bytes(path) == before  # not claimed, not lost: nothing written
    assert json.loads((path / "status.json").read_text())["state"] == "cancelled"


def test_a_holder_is_proven_by_its_command_line_and_the_holder_lock_not_by_a_pid(runs_dir):
    from conftest import stand_in_holder
    from tui_dropout.store import process_start_time
    from tui_dropout.store.queue import QueueFolder

    queue = QueueFolder(runs_dir)
    queue.write_holder({"pid": 1, "pid_start": process_start_time(1), "host": socket.gethostname()})
    assert not queue.holder_alive()  # pid 1, its real start time: it runs, but it is no holder
    unlocked = stand_in_holder(runs_dir, lock=False)  # a holder's command line, but the queue lock is not its
    try:
        assert not queue.holder_alive()
        assert "nobody" in cli("queue", "--runs-dir", runs_dir).stdout
    finally:
        unlocked.kill()
        unlocked.wait()
    held = stand_in_holder(runs_dir)
    try:
        assert queue.holder_alive()
        (runs_dir / ".queue" / "holder.json").write_text(json.dumps(
            {**queue.holder(), "pid_start": process_start_time(held.pid) + 1}))  # a start time that is not its
        assert not queue.holder_alive()
        queue.write_holder({**queue.holder(), "pid_start": process_start_time(held.pid)})
        assert queue.holder_alive() and f"pid {held.pid}" in cli("queue", "--runs-dir", runs_dir).stdout
    finally:
        held.kill()
        held.wait()
    assert wait_for(lambda: not queue.holder_alive(), 10)  # dead, its lock went with it


@pytest.mark.parametrize("text,named", [("garbage", "holder.json is not valid JSON"),
                                        ("[1, 2]", "holder.json is not a JSON object")])
def test_a_holder_record_that_is_no_json_object_is_named_by_queue_not_taken_for_no_queue(runs_dir, text, named):
    from tui_dropout.store.queue import QueueFolder

    QueueFolder(runs_dir).ensure()
    (runs_dir / ".queue" / "holder.json").write_text(text)
    out = cli("queue", "--runs-dir", runs_dir)
    assert out.returncode == 0 and out.stderr == "", out.stderr
    assert named in out.stdout and "not trusted" in out.stdout and "no queue" not in out.stdout, out.stdout


@pytest.mark.parametrize("record", [{"per_gpu": "abc"}, {"max_fused": 0}, {"gpus": "0"}, {"gpus": ["0#1"]},
                                    {"gpus": [0, 0]}, {"per_gpu": 10**20}, {"max_fused": True}, {"pid": "x"}])
def test_a_wrongly_typed_holder_record_is_named_by_queue_in_one_line(runs_dir, record):
    from tui_dropout.store.queue import QueueFolder

    QueueFolder(runs_dir).write_holder({"pid": None, "gpus": ["0"], "per_gpu": 1, "max_fused": 1, **record})
    out = cli("queue", "--runs-dir", runs_dir)
    assert out.returncode == 0 and out.stderr == "", out.stderr
    field = next(iter(record))
    if field != "pid":
        assert f"holder.json: {field} is " in out.stdout and "not trusted" in out.stdout, out.stdout
    assert "nobody" in out.stdout
