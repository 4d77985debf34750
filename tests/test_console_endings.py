"""The console tells when a run it watched ends: a notification (escaped run text) and the bell, unless off."""
import json
import os
import socket

import pytest

from conftest import make_run_folder, until
from tui_dropout.console.app import DropoutConsole
from tui_dropout.console.endings import Endings, messages
from tui_dropout.store import RunStore, process_start_time


def running(runs_dir, name, label):
    me = {"pid": os.getpid(), "pid_start": process_start_time(os.getpid()), "host": socket.gethostname()}
    return make_run_folder(runs_dir, name, {"state": "running", "epoch": 3, "epochs": 9, **me},
                           config={"preset": "D", "epochs": 9, "placement": "all", "dataset": "digits",
                                   "study": "s", "label": label})


def end(path, **status):
    data = json.loads((path / "status.json").read_text())
    data.update(status)
    (path / "status.json").write_text(json.dumps(data))


class Counting(DropoutConsole):
    rings = 0

    def bell(self) -> None:
        self.rings += 1


def texts(app) -> list[str]:
    return [f"{n.title}|{n.message}" for n in app._notifications]


@pytest.mark.parametrize("bell", [True, False])
async def test_a_run_that_ends_is_told_with_the_bell_unless_it_is_off(runs_dir, bell):
    done = running(runs_dir, "20260101-000001-D-aaaa", "D p_fc=0.3 \x1b]0;x\x07seed=1")
    broken = running(runs_dir, "20260101-000002-D-bbbb", "D p_fc=0.5 seed=1")
    make_run_folder(runs_dir, "20260101-000000-A-old", {"state": "finished", "epoch": 1, "epochs": 1})
    app = Counting(runs_dir=runs_dir, bell=bell)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: app.main.shown, what="the list")
        assert not any("finished" in t for t in texts(app))  # what ended before the console opened is no news
        end(done, state="finished", epoch=9, final_test_acc=0.6123, best_test_acc=0.625)
        await until(pilot, lambda: any(t.startswith("run finished|") for t in texts(app)), what="the notice")
        notice = next(t for t in texts(app) if t.startswith("run finished|"))
        assert "test 61.23%" in notice and "\x1b" not in notice and "\\x1b]0;x\\x07" in notice
        assert app.rings == (1 if bell else 0)
        end(broken, state="failed", error="CUDA out of memory")
        await until(pilot, lambda: any(t.startswith("run failed|") for t in texts(app)), what="the failure")
        assert "CUDA out of memory" in next(t for t in texts(app) if t.startswith("run failed|"))
        assert app.rings == (2 if bell else 0)


def test_a_fused_group_ending_together_is_one_notice_per_state(tmp_path):
    store = RunStore(tmp_path / "runs")
    paths = [running(store.root, f"20260101-00000{i}-D-000{i}", f"D seed={i}") for i in range(5)]
    endings = Endings()
    assert endings.news(store.list()) == []
    for path in paths:
        end(path, state="finished", epoch=9, final_test_acc=0.5)
    news = endings.news(store.list())
    assert len(news) == 5 and endings.news(store.list()) == []  # told once
    ((title, text, severity, ring),) = messages(news)
    assert title == "5 runs finished" and text.endswith("and 2 more") and severity == "information" and ring
