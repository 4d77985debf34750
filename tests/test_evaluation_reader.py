"""Reading evaluation.json: a damaged file is a problem, never an exception; a dead evaluating process reads lost;
and the calibration figures on known probabilities."""
import json
import math
import os
import time

import pytest

from tui_dropout import evaluation
from tui_dropout.store import process_start_time


@pytest.mark.parametrize("text, why", [
    ("{broken", "not valid JSON"),
    ("[1, 2]", "not a JSON object"),
    ('{"state": "done"}', "state is 'done'"),
    ('{"state": "finished", "mc_passes": "20"}', "mc_passes is '20'"),
    ('{"state": "finished", "progress": [1]}', "progress"),
    ('{"state": "finished", "mc": {"accuracy": "high"}}', "mc.accuracy"),
    ('{"state": "finished", "mc": [0.5]}', "mc is not an object"),
    ('{"state": "finished", "deterministic": {"reliability": [{"bin": [0, "x"], "count": 3}]}}', "bin"),
    ('{"state": "finished", "deterministic": {"reliability": [{"bin": [0, 0.1], "count": 1.5}]}}', "count"),
    ('{"state": "finished", "dropout": 1}', "dropout is"),
])
def test_a_damaged_evaluation_reads_as_a_problem_never_an_exception(tmp_path, text, why):
    (tmp_path / "evaluation.json").write_text(text)
    data = evaluation.read(tmp_path)
    assert set(data) == {"problem"} and why in data["problem"] and "evaluation.json" in data["problem"]
    assert evaluation.describe(data)[0].startswith("eval  damaged: ")
    assert set(evaluation.columns(data).values()) == {None}


def test_no_evaluation_a_fifo_and_a_dead_evaluating_process(tmp_path):
    assert evaluation.read(tmp_path) is None and evaluation.describe(None) == []
    os.mkfifo(tmp_path / "evaluation.json")
    assert "not a regular file" in evaluation.read(tmp_path)["problem"]  # and it did not block
    os.unlink(tmp_path / "evaluation.json")
    gone = {"state": "running", "mc_passes": 20, "progress": [3, 20], "host": os.uname().nodename,
            "pid": 2 ** 22 + 12345, "pid_start": 1, "started": time.time()}
    (tmp_path / "evaluation.json").write_text(json.dumps(gone))
    data = evaluation.read(tmp_path)
    assert data["state"] == "lost" and "ended before it finished" in data["error"]
    alive = {**gone, "pid": os.getpid(), "pid_start": process_start_time(os.getpid())}
    (tmp_path / "evaluation.json").write_text(json.dumps(alive))
    data = evaluation.read(tmp_path)
    assert data["state"] == "running" and evaluation.describe(data) == ["eval  running: MC pass 3/20"]
    assert set(evaluation.columns(data).values()) == {None}


def test_calibration_figures_on_known_probabilities():
    torch = pytest.importorskip("torch")
    from tui_dropout.trainer.evaluate import figures

    probs = torch.tensor([[0.9, 0.1], [0.9, 0.1], [0.65, 0.35], [0.3, 0.7]])
    labels = torch.tensor([0, 1, 0, 1])
    f = figures(probs, labels)
    assert f["accuracy"] == pytest.approx(0.75)
    # bins: 0.9 -> 13 (0.867, 0.933], 0.65 -> 9 (0.6, 0.667], 0.7 -> 10 (0.667, 0.733]
    counts = {b: row["count"] for b, row in enumerate(f["reliability"]) if row["count"]}
    assert counts == {9: 1, 10: 1, 13: 2}
    assert f["reliability"][13]["accuracy"] == 0.5 and f["reliability"][13]["confidence"] == pytest.approx(0.9)
    assert f["ece"] == pytest.approx(0.5 * 0.4 + 0.25 * 0.35 + 0.25 * 0.3)
    assert f["nll"] == pytest.approx(-(math.log(0.9) + math.log(0.1) + math.log(0.65) + math.log(0.7)) / 4)
    h = lambda p: -(p * math.log(p) + (1 - p) * math.log(1 - p))  # noqa: E731
    assert f["entropy"] == pytest.approx((2 * h(0.9) + h(0.65) + h(0.7)) / 4)
