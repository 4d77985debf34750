"""The metric registry: one row makes a metric appear in the row checks, the chart series, its chart, the CSV,
Markdown and TensorBoard exports and the help; a per-layer family is one row too; old runs read as before."""
import json
import math

import pytest

from conftest import make_run_folder
from tui_dropout import charts, export, metrics
from tui_dropout.charts import default_chart, registry_charts
from tui_dropout.series import RunSeries
from tui_dropout.store import RunDir, clean_row

RUN = "20260101-000001-B-regi"
OLD_HEADER = "epoch,loss,lr,seconds,train_acc,test_acc,elapsed"


def rows(extra=lambda e: {}):
    return [{"epoch": e, "loss": 2.0 / e, "lr": 0.1, "seconds": 0.5, "elapsed": 0.6 * e,
             **({"train_acc": 0.1 * e, "test_acc": 0.08 * e} if e % 2 == 0 else {}), **extra(e)} for e in (1, 2, 3, 4)]


def folder(runs_dir, rows_):
    path = make_run_folder(runs_dir, RUN, {"state": "finished", "epoch": 4, "started": 1_700_000_000.0},
                           metrics="".join(json.dumps(r) + "\n" for r in rows_))
    return RunDir(path)


@pytest.fixture
def grad_norm(monkeypatch):
    """A metric nobody records yet, added as one row of the registry."""
    row = metrics.Metric("grad_norm", "gradient norm", fmt=".3f", log_ok=True, about="the gradient's L2 norm")
    monkeypatch.setattr(metrics, "METRICS", (*metrics.METRICS, row))
    monkeypatch.setattr(charts, "CHARTS", registry_charts())
    return row


def test_one_new_row_reaches_the_checks_series_chart_exports_and_help(runs_dir, grad_norm, tmp_path):
    assert clean_row({"epoch": 1, "grad_norm": "big"}) is None  # typed like every metric: a damaged row
    assert math.isnan(clean_row({"epoch": 1, "grad_norm": None})["grad_norm"])
    run = folder(runs_dir, rows(lambda e: {"grad_norm": 10.0 * e}))
    s = RunSeries()
    s.add(run.read_metrics())
    assert s.grad_norm == s.get("grad_norm") == [10.0, 20.0, 30.0, 40.0] and "grad_norm" in RunSeries.EPOCH_VALUES
    spec = charts.chart("grad_norm")
    assert spec.key == "grad_norm" and spec.metric == "gradient norm" and spec.log_ok and spec.has_data(s)
    assert [line.ys(s) for line in spec.lines_for(s)] == [[10.0, 20.0, 30.0, 40.0]]
    csv = export.render(run, "csv").splitlines()
    assert csv[0] == OLD_HEADER + ",grad_norm" and csv[1].endswith(",10.0")
    md = export.render(run, "md")
    assert "| grad_norm |" in md and "| 40.000 |" in md
    assert any("grad_norm" in line and "gradient's L2 norm" in line for line in metrics.help_lines())
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    export.export_tensorboard(run, tmp_path / "tb")
    events = EventAccumulator(str(tmp_path / "tb"), size_guidance={"scalars": 0})
    events.Reload()
    assert [(e.step, e.value) for e in events.Scalars("grad_norm")] == [(1, 10.0), (2, 20.0), (3, 30.0), (4, 40.0)]


LAYERS = {"conv1": 0.25, "fc1": 0.5}


def layered(e):
    if e % 2:
        return {}
    return {key: value for layer, v in LAYERS.items() for key, value in (
        (f"act_mean.{layer}", v / e), (f"sparsity.{layer}", v), (f"wnorm.{layer}", 3.0 + e))}


def test_a_family_row_gives_one_list_line_column_and_tag_per_layer(runs_dir, tmp_path):
    run = folder(runs_dir, rows(layered))
    s = RunSeries()
    s.add(run.read_metrics())
    assert s.layers == {"act_mean": ["conv1", "fc1"], "sparsity": ["conv1", "fc1"], "wnorm": ["conv1", "fc1"]}
    assert s.acc_epochs == [2, 4] and s.get("sparsity.fc1") == [50.0, 50.0]  # shown in percent
    assert s.x_for("wnorm.conv1", "epoch") == [2, 4] and s.get("wnorm.conv1") == [5.0, 7.0]
    assert s.upto(2).get("wnorm.conv1") == [5.0] and s.copy().layers == s.layers
    spec = charts.chart("sparsity")
    assert [line.label for line in spec.lines_for(s)] == ["conv1", "fc1"] and spec.bounds == (0, 100)
    assert charts.chart("act_mean").title == "mean activation" and charts.chart("wnorm").metric == "weight norm"
    csv = export.render(run, "csv").splitlines()
    assert csv[0] == OLD_HEADER + ",act_mean.conv1,act_mean.fc1,sparsity.conv1,sparsity.fc1,wnorm.conv1,wnorm.fc1"
    assert csv[1].count(",") == csv[0].count(",") and csv[2].endswith(",0.125,0.25,0.25,0.5,5.0,5.0")
    assert "| 50.00% |" in export.render(run, "md")
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    export.export_tensorboard(run, tmp_path / "tb")
    events = EventAccumulator(str(tmp_path / "tb"), size_guidance={"scalars": 0})
    events.Reload()
    assert {"sparsity/conv1", "act_mean/fc1", "wnorm/fc1"} <= set(events.Tags()["scalars"])
    assert [(e.step, e.value) for e in events.Scalars("sparsity/fc1")] == [(2, 0.5), (4, 0.5)]


def test_an_old_run_without_layers_reads_as_before_and_its_charts_say_none_recorded(runs_dir):
    run = folder(runs_dir, rows())
    s = RunSeries()
    s.add(run.read_metrics())
    assert s.layers == {} and s.acc_epochs == [2, 4]
    assert export.render(run, "csv").splitlines()[0] == OLD_HEADER
    for key in ("sparsity", "act_mean", "wnorm"):
        spec = charts.chart(key)
        assert not spec.has_data(s) and spec.lines_for(s) == ()
    assert charts.chart("sparsity").metric == "sparsity"  # the chart's line: "no sparsity recorded"


def test_layer_keys_are_checked_and_odd_names_are_not_metrics():
    assert clean_row({"epoch": 2, "sparsity.conv1": "0.5"}) is None  # a layer value of the wrong type
    assert clean_row({"epoch": 2, "sparsity.conv1": True}) is None
    row = clean_row({"epoch": 2, "sparsity.\x1b[31m": 0.5, "sparsity.a.b": 1, "nosuch.conv1": 2, "test_acc": 0.5})
    s = RunSeries()
    s.add([row])
    assert s.layers == {}  # names that are not layer names are no metric: never a column, a tag or a legend
    assert metrics.row_columns(row) == OLD_HEADER.split(",")
    many = {"epoch": 2, **{f"wnorm.l{i}": 1.0 for i in range(metrics.MAX_LAYERS + 10)}}
    s.add([many])
    assert len(s.layers["wnorm"]) == metrics.MAX_LAYERS  # a hand-made file cannot grow a chart without end


def test_a_layer_first_seen_later_gets_gaps_before_it_and_a_seed_group_draws_every_layer():
    from tui_dropout.console.group_series import band

    a, b = RunSeries(), RunSeries()
    a.add(rows(layered))
    b.add(rows(lambda e: {**layered(e), "sparsity.conv4": 0.9} if e == 4 else layered(e)))
    assert b.layers["sparsity"] == ["conv1", "fc1", "conv4"] and math.isnan(b.get("sparsity.conv4")[0])
    assert b.get("sparsity.conv4")[1] == pytest.approx(90.0) and math.isnan(a.get("sparsity.conv4")[1])
    g = band([a, b])
    assert g.mean.get("sparsity.conv1") == [25.0, 25.0] and g.mean.get("sparsity.conv4")[1] == pytest.approx(90.0)
    assert default_chart(metrics.metric("sparsity")).lines_for(g.mean)[-1].values == "sparsity.conv4"
