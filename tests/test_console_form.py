"""The new-run form through the pilot: what it checks as you type, what it launches, and reopening it as launched."""
import json

from console_helpers import text_of, open_form, fill_form, run_folders, configs
from console_helpers import extra_presets  # noqa: F401 (a fixture, used by name)
from console_helpers import fake_trainers  # noqa: F401 (a fixture, used by name)
from conftest import until
from tui_dropout.console.app import DropoutConsole
from tui_dropout.console.screens.new_run import NewRunScreen
from tui_dropout.console.widgets.charts import MetricChart


# ----- the new-run form ------------------------------------------------------------------------------------------
async def test_enter_right_after_n_launches_the_preset_shown(runs_dir, fake_trainers):
    app = DropoutConsole(runs_dir=runs_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, NewRunScreen))
        assert str(app.screen.query_one("#preset").value) == "quick"  # runs here without any download
        assert "enter" in text_of(app.screen.query_one("#hint")) and "space/down opens a list" in text_of(
            app.screen.query_one("#hint"))
        await pilot.press("enter")
        await until(pilot, lambda: fake_trainers.started, what="a launch")
        assert not isinstance(app.screen, NewRunScreen)
        assert [c["preset"] for c in configs(runs_dir)] == ["quick"] and configs(runs_dir)[0]["epochs"] == 40

async def test_the_form_checks_every_field_and_the_presets_launched_together_as_you_type(
        runs_dir, extra_presets, fake_trainers, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")  # no GPU visible, whatever this machine has
    app = DropoutConsole(runs_dir=runs_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_form(pilot, app, f_p_fc="1.5", f_epochs="zero", f_device="cuda", together="B nosuch")
        errors = {name: text_of(form.query_one(f"#e-{name}")) for name in ("p_fc", "epochs", "device", "together")}
        assert "[0, 1]" in errors["p_fc"] and "not a whole number" in errors["epochs"]
        assert "no NVIDIA GPU" in errors["device"]
        assert "nosuch: unknown preset" in errors["together"] and "B: data_dir" in errors["together"]
        assert form.query_one("#launch").disabled
        await pilot.press("enter")  # refused, with every problem named
        assert isinstance(app.screen, NewRunScreen) and not fake_trainers.started
        # fixed: the main preset named again among "together" launches once
        form = await fill_form(pilot, form, f_p_fc="0.4", f_epochs="3", f_device="cpu", together="q2 quick q2")
        await until(pilot, lambda: not form.query_one("#launch").disabled)
        await pilot.press("enter")  # two runs: asked first
        await until(pilot, lambda: "Launch 2 runs?" in text_of(app.screen.query_one("Static")))
        await pilot.press("y")
        await until(pilot, lambda: fake_trainers.started)
    assert sorted(c["preset"] for c in configs(runs_dir)) == ["q2", "quick"]
    assert len(fake_trainers.started) == 1 and len(fake_trainers.started[0][0]) == 2  # fused: one trainer
    assert all(c["epochs"] == 3 and c["p_fc"] == 0.4 for c in configs(runs_dir))

async def test_the_form_names_tags_and_annotates_what_it_launches(runs_dir, fake_trainers):
    app = DropoutConsole(runs_dir=runs_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_form(pilot, app, name="baseline", tags="a,b bad!tag")
        assert "bad!tag" in text_of(form.query_one("#e-tags")) and form.query_one("#launch").disabled
        form = await fill_form(pilot, form, tags="first keep", note="the seed's settings", seeds="2")
        await until(pilot, lambda: not form.query_one("#launch").disabled)
        await pilot.press("enter")  # two seeds: asked first
        await until(pilot, lambda: "Launch 2 runs?" in text_of(app.screen.query_one("Static")))
        await pilot.press("y")
        await until(pilot, lambda: fake_trainers.started)
    notes = sorted((json.loads((p / "notes.json").read_text()) for p in runs_dir.iterdir()
                    if (p / "notes.json").exists()), key=lambda n: n["name"])
    assert [n["name"] for n in notes] == ["baseline quick seed=0", "baseline quick seed=1"]
    assert all(n["tags"] == ["first", "keep"] and n["note"] == "the seed's settings" for n in notes)

async def test_broken_presets_are_shown_in_the_form_not_fatal(runs_dir, extra_presets, fake_trainers):
    app = DropoutConsole(runs_dir=runs_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_form(pilot, app)
        # the list opens with space (and down); escape closes just the list
        select = form.query_one("#preset")
        await pilot.press("space")
        await until(pilot, lambda: select.expanded)
        await pilot.press("escape")
        await until(pilot, lambda: not select.expanded)
        assert isinstance(app.screen, NewRunScreen)
        for name, reason in (("broken", "not valid TOML"), ("wrongtype", "'ten' is not a whole number")):
            form.query_one("#preset").value = name
            await until(pilot, lambda: reason in text_of(form.query_one("#e-preset")), what=f"{name}'s error")
            assert form.query_one("#launch").disabled
            await pilot.press("enter")
            assert isinstance(app.screen, NewRunScreen)
        form.query_one("#preset").value = "imagenet"  # a value no list offers: shown, and flagged beside its field
        await until(pilot, lambda: "unknown dataset 'imagenet'" in text_of(form.query_one("#e-dataset")))
        form.query_one("#preset").value = "quick"
        await until(pilot, lambda: not form.query_one("#launch").disabled)
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, NewRunScreen))
        assert app.is_running
    assert not fake_trainers.started and not configs(runs_dir)

async def test_launch_from_the_form_watch_it_train_and_reopen_the_form_as_launched(runs_dir, extra_presets):
    """The one test with the real trainer: two presets from the form, 2 epochs, trained fused to finished.

    While the trainer starts (seconds: it imports torch), the form reopens with the values last launched."""
    app = DropoutConsole(runs_dir=runs_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_form(pilot, app, f_epochs="2", f_p_fc="0.3", f_data_dir=str(runs_dir.parent), together="q2")
        await pilot.press("enter")
        await until(pilot, lambda: "Launch 2 runs?" in text_of(app.screen.query_one("Static")))
        await pilot.press("y")
        await until(pilot, lambda: len(app.watcher.runs) == 2, what="two run folders")
        run_id = app.screen.selected
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, NewRunScreen))
        form = app.screen
        await until(pilot, lambda: not form.query_one("#launch").disabled, what="the form's first check")
        assert str(form.query_one("#preset").value) == "quick" and form.query_one("#together").value == "q2"
        assert form.query_one("#f-epochs").value == "2" and form.query_one("#f-p_fc").value == "0.3"
        assert form.query_one("#f-data_dir").value == str(runs_dir.parent)
        form.query_one("#preset").value = "q2"  # picking another preset still fills in that preset's values
        await until(pilot, lambda: form.query_one("#f-placement").value == "all")
        assert form.query_one("#f-epochs").value == "40"
        await pilot.press("escape")
        await until(pilot, lambda: all(w.info.state == "finished" for w in app.watcher.runs.values()),
                    timeout=90, what="both runs to finish")
        acc = app.query_one("#acc", MetricChart)
        await until(pilot, lambda: acc.points == 4, what="two epochs of train and test accuracy")
        assert run_id in app.query_one("#details").text.plain
    assert sorted((c["preset"], c["epochs"], c["p_fc"]) for c in configs(runs_dir)) == [("q2", 2, 0.3),
                                                                                      ("quick", 2, 0.3)]
    groups = {tuple(json.loads((p / "status.json").read_text())["group"]) for p in run_folders(runs_dir)}
    assert len(groups) == 1  # fused: one trainer for the two
