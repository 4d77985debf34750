"""Damaged run-folder files, thrown at every reader: each is shown as damaged (or skipped), never raised.

Arbitrary bytes and arbitrary JSON (wrong types under the real key names, huge integers, NaN and Infinity written
the Python way, deep nesting) go into each file of an otherwise valid run folder; then the store, the watcher,
the chart series, the exports, the launcher and the console's rendering helpers read it. Allowed: the project's
own errors (DropoutTuiError) from the launcher, with one-line messages. Not allowed: anything else.
"""
from __future__ import annotations

import json
import math

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from damaged import _base  # noqa: F401 (the autouse fixture that makes and removes the scratch folder)
from damaged import (IDS, INSIDE, RUN_ID, SETTINGS, TEXT, assert_shown_damaged, damaged, dump, examples,
                     expected_metrics, json_file, json_values, metrics_file, plotted_epochs, read_everything, rendered, run_folder,
                     scalars, special)
from tui_dropout.store import MetricsTail, RunDir, RunStore


# ----- the property tests --------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["status.json", "config.json", "summary.json"])
@SETTINGS
@given(data=st.data())
def test_damaged_json_file_is_shown_as_damaged_by_every_reader(name, data):
    content = data.draw(json_file(name), label=name)
    with run_folder(**{name: content}) as (root, path):
        info, series, texts, row, cells, shown = read_everything(root, path)
    if damaged(name, content):
        assert_shown_damaged(name, info, row, cells, shown)
    else:
        assert info.state != "corrupt", info.problem
        value = json.loads(content)
        assert info.problem is None or info.problem == "status.json empty" and name == "status.json" and not value
        if name == "config.json":
            assert info.preset == (value.get("preset") or "?") and info.epochs == (value.get("epochs") or 0)
        for figure in ("best_test_acc", "best_train_acc", "final_loss", "elapsed"):
            assert getattr(info, figure) is None or math.isfinite(getattr(info, figure))
        if name == "status.json" and isinstance(value.get("epoch"), int):
            assert info.epoch == value["epoch"]
        v = value.get("best_test_acc")
        if name == "status.json" and isinstance(v, (int, float)) and math.isfinite(v):
            assert info.best_test_acc == v  # the live figure, never one from elsewhere


NOTES_SPEC = {"name": TEXT, "tags": IDS, "note": TEXT}
EVALUATION_KEYS = ["state", "mc_passes", "dropout", "deterministic", "mc", "progress", "error", "accuracy", "ece",
                   "entropy", "reliability", "count", "confidence"]
notes_file = st.one_of(st.binary(max_size=120), json_values.map(dump), special,
                       st.dictionaries(st.sampled_from(sorted(NOTES_SPEC)), json_values, max_size=3).map(dump),
                       st.fixed_dictionaries({}, optional={"name": st.text(max_size=90), "note": st.text(max_size=20),
                                                           "tags": st.lists(st.text(max_size=8), max_size=3)}).map(dump))
evaluation_file = st.one_of(st.binary(max_size=120), json_values.map(dump), special,
                            st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
                                st.sampled_from(EVALUATION_KEYS), inner, max_size=5), max_leaves=15).map(dump))


@examples(40)
@given(notes=notes_file, evaluated=evaluation_file)
@example(notes=b'{"name": 5, "tags": "x"}', evaluated=b'{"state": "finished", "deterministic": {"accuracy": "x"}}')
def test_damaged_notes_and_evaluation_never_hide_the_run_or_crash_a_reader(notes, evaluated):
    """What the user wrote of a run (notes.json) and what an evaluation found (evaluation.json) are extras: damaged,
    they are named beside the run, whose training figures stay whole; every reader of them keeps going."""
    from tui_dropout import evaluation, hparams
    from tui_dropout.console.screens.compare import evaluation_table
    from tui_dropout.query import filter_runs, sort_runs
    from tui_dropout.store.notes import read_notes, update_notes

    with run_folder(**{"notes.json": notes, "evaluation.json": evaluated}) as (root, path):
        info, series, texts, row, cells, shown = read_everything(root, path, full=True)
        assert info.state == "finished" and info.best_test_acc == 0.5  # never "corrupt" for an extra
        read, problem = read_notes(path / "notes.json")
        assert (problem is None) == (info.problem is None)
        if problem:
            assert "notes.json" in problem and "\n" not in problem and "notes.json" in shown
        assert isinstance(info.name, str) and all(isinstance(t, str) for t in info.tags)
        infos = RunStore(root).list()
        for text in ("tag:x", "name:a", "p_fc>=0.3", "test>10", "!state:fin", "x"):
            filter_runs(infos, text)
        for by in ("newest", "test", "name", "gap", "p_fc"):
            sort_runs(infos, by)
        hparams.csv_text(infos)
        hparams.table(infos)
        data = evaluation.read(path)
        assert data is None or isinstance(data, dict)
        assert all(isinstance(line, str) for line in evaluation.describe(data))
        evaluation.columns(data)
        rendered(evaluation_table(infos) or "")
        update_notes(path, add_tags=["fixed"])  # labelling again replaces a damaged file with a good one
        assert read_notes(path / "notes.json")[1] is None and "fixed" in read_notes(path / "notes.json")[0]["tags"]


@examples(40)
@given(content=metrics_file)
@example(content=b'{"epoch": 1, "loss": NaN}\n{"epoch": 2, "loss": 1.5, "test_acc": 0.5}\n')
@example(content=b'{"epoch": 3, "loss": 1}\n{"epoch": 2, "loss": 2}\n{"epoch": 2, "loss": 3}\n')
@example(content=b'{"epoch": 1, "loss": ' + b"1" * 400 + b'}\n{"epoch": 1, "loss": 1e999}\n')
def test_damaged_metric_lines_are_skipped_and_counted(content):
    rows, bad = expected_metrics(content)
    with run_folder(**{"metrics.jsonl": content}) as (root, path):
        tail = MetricsTail(path / "metrics.jsonl")
        assert len(tail.read_new()) == len(rows) and tail.bad_lines == bad
        info, series, texts, row, cells, shown = read_everything(root, path, full=True)
    assert info.state == "finished" and info.problem is None  # the figures come from status and summary
    assert series.epochs == plotted_epochs(rows)
    assert len(texts["csv"].splitlines()) == 1 + len(rows)
    assert len(texts["jsonl"].splitlines()) == len(rows)
    assert texts["md"].count("\n| ") == len(rows) + 1  # the header, then one line a row


@pytest.mark.parametrize("name", ["train.log", "cancel.request"])
@examples(20)
@given(content=st.binary(max_size=300) | st.text(max_size=100).map(str.encode) | st.sampled_from([b"\r" * 50,
                                                                                                   b"\x1b[31m\n"]))
def test_any_bytes_in_the_log_or_the_cancel_request(name, content):
    with run_folder(**{name: content}) as (root, path):
        lines = RunDir(path).log_tail(10)
        assert all(isinstance(line, str) for line in lines)
        info, *_ = read_everything(root, path)
    assert info.state == "finished" and info.problem is None




INSIDE_KEYS = ["epoch", "images", "layers", "filters", "name", "units", "mean", "zero_fraction", "weight_norm",
               "hist", "unit_mean_hist", "edges", "counts", "layer", "shape", "values"]
inside_file = st.one_of(st.binary(max_size=120), json_values.map(dump), special,
                        st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
                            st.sampled_from(INSIDE_KEYS), inner, max_size=6), max_leaves=20).map(dump),
                        st.tuples(st.sampled_from(INSIDE_KEYS), json_values).map(
                            lambda kv: dump({**INSIDE, kv[0]: kv[1]})),
                        st.tuples(st.sampled_from(INSIDE_KEYS), json_values).map(
                            lambda kv: dump({**INSIDE, "layers": [{**INSIDE["layers"][0], kv[0]: kv[1]}]})))


@examples(60)
@given(content=inside_file)
@example(content=dump({**INSIDE, "layers": [{**INSIDE["layers"][0], "name": "\x1b[31mfc1"}]}))
@example(content=dump({**INSIDE, "layers": INSIDE["layers"] * 2}))
def test_a_damaged_inside_json_reads_as_absent_naming_the_file_and_costs_the_run_nothing(content):
    """inside.json (the hidden layers at the last evaluation) is an extra: damaged, it reads as absent with one line
    naming it; the run, its figures and every reader stay whole; `export --format dir` copies it as it is."""
    from tui_dropout.store.inside import load_inside, read_inside

    with run_folder(**{"inside.json": content}) as (root, path):
        inside, problem = load_inside(path)
        info, series, texts, row, cells, shown = read_everything(root, path)
        assert info.state == "finished" and info.best_test_acc == 0.5 and info.problem is None
        assert (root.parent / "exports" / RUN_ID / "inside.json").read_bytes() == content
    assert inside is None or not problem
    if problem:
        assert problem.startswith("inside.json") and "\n" not in problem and read_inside(path) is None
    else:
        assert inside.epoch >= 1 and all(sum(layer.hist.counts) >= 0 for layer in inside.layers)
        assert all(layer.name.isidentifier() for layer in inside.layers)
        assert inside.filters is None or len(inside.filters.values) == inside.filters.shape[0]
    if content == dump(INSIDE):
        assert inside is not None and inside.layers[0].hist.counts == (3, 1)
