"""`results`: the seed's table for a study (or any runs): final and best accuracy, and mean±std over seeds."""
from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Optional

import typer

from .. import evaluation
from ..export import acc_text, number_text, results_row, seconds_text
from ..groups import FIGURES, run_label, seed_groups, spread
from ..states import State
from ..store import RunDir, RunNotFound
from ..safetext import safe
from .options import echo, RunsDir, fail, open_store, output_width

if TYPE_CHECKING:
    from rich.console import Console
    from rich.text import Text


def plain(text: object) -> "Text":
    """Run-folder text as a table cell: escapes shown, no markup read from it."""
    from rich.text import Text

    return Text(safe(text))


def print_results(runs: list[RunDir]) -> None:
    """The seed's table: final and best (@epoch) accuracy in %, final loss and time; then, when runs differ
    only in seed, each group's mean±std over its n seeds. Fits 80 columns."""
    from rich import box
    from rich.table import Table

    infos = [run.info() for run in runs]
    limits = sorted({i.config.get("train_limit") for i in infos if isinstance(i.config.get("train_limit"), int)})
    sets = (f", train on its first {'/'.join(map(str, limits))} images, test on the full set" if limits
            else " on the full sets")
    table = Table(title=f"results (accuracy %{sets}; best @ its epoch)", box=box.SIMPLE_HEAD,
                  pad_edge=False, padding=(0, 0))
    for col in ("run", "state", "epochs", "train", "test", "best train", "best test", "loss", "time"):
        table.add_column(col, no_wrap=col != "run", justify="left" if col in ("run", "state") else "right")
    for info in infos:
        row = results_row(info)
        table.add_row(plain(run_label(info)), row["state"], f"{row['epoch']}/{row['epochs']}",
                      acc_text(row["final_train_acc"]), acc_text(row["final_test_acc"]),
                      acc_text(row["best_train_acc"], row["best_train_epoch"]),
                      acc_text(row["best_test_acc"], row["best_test_epoch"]),
                      number_text(row["final_loss"], ".4f"), seconds_text(row["wall_seconds"]))
    from rich.console import Console  # here: a listing that prints no table does not pay for rich

    console = Console(width=output_width())  # piped, a label is not wrapped at 80 columns
    console.print(table)
    groups = seed_groups(infos)
    print_groups(console, groups)
    print_differences(console, groups)
    print_evaluations(console, infos)
    for info in infos:
        console.print(plain(f"  {run_label(info)}: {info.run_id}"), highlight=False, soft_wrap=True)
        if info.error or info.problem:
            console.print(plain(f"  error: {info.error or info.problem}"), highlight=False, soft_wrap=True)


SPREAD_NOTE = ("mean±std over each group's finished runs only (n = finished/all); std is the sample standard "
               "deviation (n-1)")


def print_groups(console: Console, groups: list) -> None:
    """Each seed group's mean±std over its finished runs only, `n` as finished of all, and the runs left out
    beside it with their state (a cancelled 5/40 run is no sample of the experiment)."""
    from rich import box
    from rich.table import Table

    if not any(g.n > 1 for g in groups):
        return
    spread_table = Table(title="over seeds: mean±std (n finished/all)", box=box.SIMPLE_HEAD, pad_edge=False,
                         padding=(0, 0))
    for col in ("group", "n", "train", "test", "best train", "best test", "loss"):
        spread_table.add_column(col, no_wrap=col != "group", justify="left" if col == "group" else "right")
    for g in groups:
        loss = g.figure("final_loss", finished_only=True)
        spread_table.add_row(plain(g.name), f"{len(g.finished)}/{g.n}",
                             *(g.figure(f, finished_only=True).text() for f in FIGURES[:4]),
                             loss.text(scale=1.0, digits=4))
    console.print(spread_table)
    console.print(f"  {SPREAD_NOTE}", highlight=False, soft_wrap=True)
    for g in groups:
        if g.n > 1 and g.unfinished:
            left_out = ", ".join(f"{seed_text(info)} {info.state} {info.epoch}/{info.epochs}" for info in g.unfinished)
            console.print(plain(f"  {g.name} n={len(g.finished)}/{g.n}, left out: {left_out}"), highlight=False,
                          soft_wrap=True)


def print_differences(console: Console, groups: list) -> None:
    """Each group against the first: the difference of final test accuracy with its 95% interval and p-value
    (stats.py says which t-test); a pair too small to tell says so instead of a figure."""
    from rich import box
    from rich.table import Table

    from .. import stats

    rows = [g for g in groups if g.finished]
    if len(rows) < 2 or not any(g.n > 1 for g in rows):
        return
    table = Table(title=f"against {safe(rows[0].name)}: final test, points (95% interval)", box=box.SIMPLE_HEAD,
                  pad_edge=False, padding=(0, 1))
    for col in ("group", "n", "difference", "p", "test"):
        table.add_column(col, no_wrap=col != "group", justify="left" if col in ("group", "test") else "right")
    for d in stats.differences(rows):
        table.add_row(plain(d.b), f"{d.n_b} vs {d.n_a}", d.text(), d.p_text(), plain(d.test or d.note))
    console.print(table)
    console.print(f"  {stats.TESTS_NOTE}", highlight=False, soft_wrap=True)


def seed_text(info) -> str:
    seed = info.config.get("seed")
    return f"seed={seed}" if isinstance(seed, int) and not isinstance(seed, bool) else info.run_id


def print_evaluations(console: Console, infos: list) -> None:
    """Where runs have an evaluation (`dropout-tui evaluate`): dropout off vs Monte-Carlo dropout side by side,
    accuracy and ECE on the test set; then mean±std over seeds for groups with more than one evaluated run."""
    from rich import box
    from rich.table import Table

    found = {info.run_id: evaluation.read(info.path) for info in infos}
    found = {run_id: data for run_id, data in found.items() if data}
    if not found:
        return
    table = Table(title="dropout off vs MC dropout (test accuracy %, ECE %, MC entropy)", box=box.SIMPLE_HEAD,
                  pad_edge=False, padding=(0, 1))
    for col in ("run", "MC", "acc off", "acc MC", "ECE off", "ECE MC", "entropy"):
        table.add_column(col, no_wrap=col != "run", justify="left" if col == "run" else "right")
    for info in infos:
        data = found.get(info.run_id)
        if data is None:
            continue
        cols = evaluation.columns(data)
        if data.get("problem"):
            passes = "damaged"
        elif data.get("state") != State.FINISHED:
            passes = str(data.get("state"))  # running, failed, lost
        else:
            passes = f"x{data.get('mc_passes')}" if data.get("dropout", True) else "none"
        table.add_row(plain(run_label(info)), plain(passes), acc_text(cols["det_acc"]), acc_text(cols["mc_acc"]),
                      acc_text(cols["det_ece"]), acc_text(cols["mc_ece"]), number_text(cols["mc_entropy"], ".3f"))
    console.print(table)
    groups = [g for g in seed_groups(infos)
              if sum(evaluation.columns(found.get(i.run_id))["mc_acc"] is not None for i in g.runs) > 1]
    if not groups:
        return
    spread_table = Table(title="over seeds: mean±std (n evaluated)", box=box.SIMPLE_HEAD, pad_edge=False,
                         padding=(0, 1))
    for col in ("group", "n", "acc off", "acc MC", "ECE off", "ECE MC"):
        spread_table.add_column(col, no_wrap=col != "group", justify="left" if col == "group" else "right")
    for g in groups:
        cols = [evaluation.columns(found.get(i.run_id)) for i in g.runs]
        cols = [c for c in cols if c["mc_acc"] is not None]
        figures = [spread([c[key] for c in cols]) for key in ("det_acc", "mc_acc", "det_ece", "mc_ece")]
        spread_table.add_row(plain(g.name), str(len(cols)), *(f.text() for f in figures))
    console.print(spread_table)


def chosen_runs(run_refs: Optional[list[str]], study: Optional[str], runs_dir: RunsDir) -> list[RunDir]:
    """The runs named, else the study named by --study (a unique part of its id), else the newest study; in
    launch order. Says which study on stderr, so that stdout stays the table (or the JSON)."""
    store = open_store(runs_dir)
    if run_refs:
        try:
            return [store.find(ref) for ref in run_refs]
        except RunNotFound as exc:
            fail(str(exc))
    infos = store.list()  # newest first
    studies = [i.config.get("study") for i in infos if isinstance(i.config.get("study"), str)
               and i.config.get("study")]
    if study is not None:
        chosen = sorted({s for s in studies if study in s})
        if len(chosen) != 1:
            fail(f"study: {study!r} matches {len(chosen)} studies" + (f" ({', '.join(chosen[:5])})" if chosen else ""))
        wanted = chosen[0]
    elif studies:
        wanted = studies[0]
    else:
        fail(f"study: no study in {store.root.absolute()} (dropout-tui study ... --grid/--seeds makes one)")
    runs = [RunDir(i.path) for i in reversed(infos) if i.config.get("study") == wanted]  # launch order
    echo(f"study {safe(wanted)}: {len(runs)} runs", err=True)
    return runs


def results(run_refs: Optional[list[str]] = typer.Argument(None, metavar="[RUN]...", help="Runs (default: a study)."),
            study: Optional[str] = typer.Option(None, "--study", help="A study id (or a unique part of one)."),
            as_json: Annotated[bool, typer.Option("--json", help="Print the results as JSON (docs/json.md).")] = False,
            runs_dir: RunsDir = None) -> None:
    """Print the results table for a study (default: the newest) or the runs named, with mean±std over seeds."""
    runs = chosen_runs(run_refs, study, runs_dir)
    if not as_json:
        print_results(runs)
        return
    from .. import stats
    from ..jsonout import document, group_record, run_record

    infos = [run.info() for run in runs]
    groups = seed_groups(infos)
    finished = [g for g in groups if g.finished]
    typer.echo(document("results", runs=[run_record(info) for info in infos],
                        groups=[group_record(g) for g in groups],
                        differences=[d.as_dict() for d in stats.differences(finished)] if len(finished) > 1 else []))
