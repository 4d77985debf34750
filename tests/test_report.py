"""`dropout-tui report`: a real little study (digits, 2 p x 2 seeds, trained here, one group evaluated with MC
dropout) written as report.html and report.md; the HTML opened in a real headless browser (slow suite)."""
import dataclasses
import json
import os
import re
import shutil
import subprocess

import pytest
from typer.testing import CliRunner

from conftest import cli, tiny_config
from tui_dropout.cli.main import app
from tui_dropout.store import RunStore

STUDY = "20260303-000000-rp"
HOSTILE = "\x1b]0;owned\x07<b>$x$</b>"


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """A runs folder holding a finished 2 x 2 study; the p_fc=0.6 group evaluated (MC x3)."""
    from tui_dropout.trainer.engine import Trainer

    runs_dir = tmp_path_factory.mktemp("report") / "runs"
    store = RunStore(runs_dir)
    runs = []
    for p in (0.2, 0.6):
        for seed in (0, 1):
            cfg = dataclasses.replace(tiny_config(placement="fc", p_fc=p, seed=seed, epochs=3), study=STUDY,
                                      label=f"quick p_fc={p} seed={seed}")
            runs.append(store.create(cfg.to_dict()))
    assert Trainer(runs).run() == ["finished"] * 4
    for run in runs[2:]:
        assert cli("evaluate", run.run_id, "--mc", "3", "--runs-dir", runs_dir).returncode == 0
    return runs_dir


def test_report_writes_html_and_markdown_with_every_figure_and_the_studys_answer(study, tmp_path):
    out = tmp_path / "rep"
    result = CliRunner().invoke(app, ["report", "-o", str(out), "--runs-dir", str(study)])
    assert result.exit_code == 0, result.output
    page = (out / "report.html").read_text()
    md = (out / "report.md").read_text()
    stems = sorted(p.stem for p in (out / "figures").iterdir())
    assert stems == ["activations", "curves", "filters", "reliability-1", "sweep"]  # trained runs record inside.json
    assert page.count("<svg") == 5 and "<script" not in page
    assert not re.search(r"""(src|href)=["']?(https?:|//)""", page)  # nothing fetched to open it
    for stem in stems:
        assert f"](figures/{stem}.svg)" in md
    assert f"Dropout study {STUDY}" in page and "paired t-test (2 seeds)" in page and "p_fc" in md
    assert "dropout-tui study quick" in md and "--seeds 0,1" in md  # the command that repeats a group
    assert "sha256" not in md or "digits" in md  # digits: sklearn's copy, named with its version
    assert "scikit-learn's bundled copy" in md
    again = cli("report", "-o", out, "--runs-dir", study)
    assert again.returncode == 2 and again.stderr.startswith("error: output:") and "--force" in again.stderr
    assert cli("report", "-o", out, "--force", "--runs-dir", study).returncode == 0


def test_run_folder_text_reaches_the_report_escaped(study, tmp_path):
    runs_dir = tmp_path / "runs"
    shutil.copytree(study, runs_dir)
    victim = next(p for p in sorted(runs_dir.iterdir()) if p.is_dir() and not p.name.startswith("."))
    config = json.loads((victim / "config.json").read_text())
    config["label"] = HOSTILE + " seed=0"
    (victim / "config.json").write_text(json.dumps(config))
    out = tmp_path / "rep"
    result = cli("report", "-o", out, "--runs-dir", runs_dir)
    assert result.returncode == 0, result.stderr
    for name in ("report.html", "report.md"):
        text = (out / name).read_text()
        assert "\x1b" not in text and "\x07" not in text and "<b>" not in text
        assert "x1b]0;owned" in text and "x07&lt;b&gt;" in text  # shown as typed (Markdown escapes the backslash)


def test_report_refuses_a_file_and_a_study_that_does_not_exist(study, tmp_path):
    (tmp_path / "f").write_text("x")
    for args, starts in ((["-o", tmp_path / "f"], "error: output:"), (["-o", tmp_path / "r", "--study", "nope"],
                                                                       "error: study:")):
        result = cli("report", *args, "--runs-dir", study)
        assert result.returncode == 2 and result.stderr.startswith(starts), result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "r").exists()


CHECK = """<script>addEventListener('load',()=>{const s=[...document.querySelectorAll('svg')];
const ok=s.filter(e=>{const b=e.getBBox();return b.width>50&&b.height>50&&e.querySelectorAll('path').length>5});
document.body.insertAdjacentHTML('beforeend','<p id=check>'+ok.length+'/'+s.length+'</p>')})</script>"""


def browser() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytest.mark.slow
def test_a_real_headless_browser_renders_every_figure(study, tmp_path):
    exe = browser()
    if exe is None:
        if os.environ.get("DROPOUT_TUI_REQUIRE_BROWSER"):
            pytest.fail("no chromium, and CI needs it for the report's browser test")
        pytest.skip("no chromium on this machine (apt-get install chromium)")
    out = tmp_path / "rep"
    assert cli("report", "-o", out, "--runs-dir", study).returncode == 0
    checked = tmp_path / "checked.html"  # the report with a probe that counts drawn figures, beside its own copy
    checked.write_text((out / "report.html").read_text().replace("</body>", CHECK + "</body>"))
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run([exe, *flags, "--virtual-time-budget=5000", "--dump-dom", checked.as_uri()],
                         capture_output=True, text=True, timeout=120)
    found = re.search(r'<p id="check">(\d+)/(\d+)</p>', dom.stdout)
    assert found, dom.stderr[-2000:]
    assert found.group(1) == found.group(2) == "5"
    shot = tmp_path / "page.png"
    subprocess.run([exe, *flags, "--window-size=1200,3000", f"--screenshot={shot}", (out / "report.html").as_uri()],
                   capture_output=True, timeout=120)
    assert shot.exists() and shot.stat().st_size > 20_000  # a page with figures, not a blank one
