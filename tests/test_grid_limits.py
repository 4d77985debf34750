"""Grids and ranges past what a float or the run limit holds: one line naming the field, exit 2, in the CLI and
the new-run form, and nothing built or made first."""
import pytest

from conftest import cli, until
from tui_dropout.console.app import DropoutConsole
from tui_dropout.console.screens.new_run import NewRunScreen
from tui_dropout.launch.plan import MAX_RUNS

BAD_RANGES = [
    ("p_fc=0..1:1e-320", "p_fc", f"more than {MAX_RUNS} values"),  # (HIGH-LOW)/STEP is infinite
    ("lr=1..inf:1", "lr", "finite"),
    ("lr=0..1e308:1e-300", "lr", f"more than {MAX_RUNS} values"),
    ("lr=nan..1:0.1", "lr", "finite"),
    ("lr=0.1..nan:0.1", "lr", "finite"),
    ("lr=0.1..1:nan", "lr", "finite"),
    ("epochs=1..100000000000000000000000000000:1", "epochs", f"more than {MAX_RUNS} values"),
]


@pytest.mark.parametrize("item,field,reason", BAD_RANGES)
def test_a_range_no_float_can_count_is_one_line_naming_the_field(runs_dir, item, field, reason):
    result = cli("study", "quick", "--grid", item, "--runs-dir", runs_dir)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {field}: ") and reason in lines[0], result.stderr
    assert "Traceback" not in result.stderr and not runs_dir.exists()


def test_a_grid_past_the_run_limit_is_refused_from_its_factors_before_any_point_is_built(runs_dir):
    # 1001 x 1001 x 1000 = 10^9 combinations: building them first took gigabytes; the count alone is instant
    result = cli("study", "quick", "--grid", "p_fc=0..1:0.001", "--grid", "p_conv=0..1:0.001",
                 "--grid", "lr=0.001..1:0.001", "--runs-dir", runs_dir, timeout=30)
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: grid: this would launch {1001 * 1001 * 1000} runs (at most {MAX_RUNS})"
    assert not runs_dir.exists()


@pytest.mark.parametrize("value", ["0", "-5", "65"])
def test_max_fused_out_of_range_is_refused_by_the_local_backend_as_by_the_queue(runs_dir, value):
    for backend in ("local", "queue"):
        result = cli("study", "quick", "--seeds", "2", "--epochs", "1", "--backend", backend,
                     f"--max-fused={value}", "--runs-dir", runs_dir)
        assert result.returncode == 2, (backend, result.stderr)
        assert result.stderr.strip() == f"error: max_fused: must be 1 to 64, got {value}", backend
    assert not runs_dir.exists()


@pytest.mark.parametrize("typed,reason", [("0..1:1e-320", f"more than {MAX_RUNS} values"),
                                          ("0..inf:1", "finite numbers"), ("0..1:nan", "finite numbers"),
                                          ("nan", "must be a finite number"), ("inf", "must be a finite number")])
async def test_a_range_typed_into_the_form_that_no_float_can_count_is_shown_beside_the_field(runs_dir, monkeypatch,
                                                                                            typed, reason):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    app = DropoutConsole(runs_dir=runs_dir)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, NewRunScreen), what="the form")
        form = app.screen
        field = form.query_one("#f-p_fc")
        field.focus()
        field.cursor_position = len(field.value)
        await pilot.press(*["backspace"] * len(field.value))
        await pilot.press(*typed)  # key by key: every prefix is read as it is typed
        await until(pilot, lambda: field.value == typed, what="the typed range")
        await until(pilot, lambda: reason in str(form.query_one("#e-p_fc").render()), what="the reason beside p_fc")
        assert len(str(form.query_one("#e-p_fc").render()).strip().splitlines()) == 1
        assert app.is_running and isinstance(app.screen, NewRunScreen)
        assert form.query_one("#launch").disabled
        await pilot.press("enter")  # refused: nothing launched
        assert isinstance(app.screen, NewRunScreen)
        await pilot.press(*["backspace"] * len(typed), *"0..0.5:0.25")  # a grid of three, fine again
        await until(pilot, lambda: field.value == "0..0.5:0.25" and not str(form.query_one("#e-p_fc").render()).strip(),
                    what="the reason cleared")
    assert not runs_dir.exists() or not any(runs_dir.iterdir())
