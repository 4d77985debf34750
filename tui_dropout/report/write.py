"""A report as files: `report.html` (self-contained, figures inline as SVG, no network to open it) and
`report.md` with the same figures as files under `figures/`. Every string from a run folder is made safe
(escapes visible) and then escaped for HTML or Markdown."""
from __future__ import annotations

import html
import json
import time
from pathlib import Path
from typing import Any

from .. import stats
from ..safetext import safe
from ..sweep import SWEEP_FIGURES
from .content import Content
from .environment import repeat_command

STYLE = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.6em 0 1.2em}td,th{border-bottom:1px solid #ddd;padding:.25em .7em;text-align:right}
td:first-child,th:first-child{text-align:left}figure{margin:1.2em 0}figcaption{color:#555;font-size:.9em}
svg{max-width:100%;height:auto}code{background:#f4f4f4;padding:.1em .3em}.note{color:#555;font-size:.9em}"""


def _cell(value: Any) -> str:
    return safe(json.dumps(value) if isinstance(value, (dict, list)) else value)


def tables(content: Content) -> list[tuple[str, list[str], list[list[str]], str]]:
    """(title, header, rows, note) of each table, shared by the HTML and the Markdown."""
    out = []
    ece = any(p.figures["mc_ece"].n for p in content.found.points)
    head = ["group", "n", "final train %", "final test %", "best test %", "train-test gap"] + (["ECE MC %"] if ece else [])
    rows = []
    for g in content.groups:
        point = next((p for p in content.found.points if p.group.name == g.name), None)
        gap, mc = (point.figures["gap"], point.figures["mc_ece"]) if point else (None, None)
        rows.append([safe(g.name), f"{len(g.finished)}/{g.n}", g.figure("final_train_acc", True).text(),
                     g.figure("final_test_acc", True).text(), g.figure("best_test_acc", True).text(),
                     gap.text() if gap else "-"] + ([mc.text() if mc else "-"] if ece else []))
    out.append(("Results", head, rows, "mean±std over each group's finished runs (n = finished/all); std is the "
                                       "sample standard deviation (n-1)"))
    if content.seed_rows:
        out.append(("Beside the seed's table", ["network", "seed train", "seed test", "train here", "test here"],
                    [list(r) for r in content.seed_rows],
                    "the seed's figures are one run each after 1000 epochs; ours are mean±std over seeds"))
    if content.differences:
        out.append((f"Against {safe(content.groups[0].name)}: final test accuracy",
                    ["group", "n", "difference (points) [95% interval]", "p", "test"],
                    [[safe(d.b), f"{d.n_b} vs {d.n_a}", d.text(), d.p_text(), safe(d.test or d.note)]
                     for d in content.differences], stats.TESTS_NOTE))
    if content.found.axes:
        axes = [safe(a) for a in content.found.axes]
        out.append(("Sweep", axes + ["n"] + [SWEEP_FIGURES[f] for f in ("final_test_acc", "best_test_acc", "gap")],
                    [[_cell(p.values[a]) for a in content.found.axes] + [p.n_text] +
                     [p.figures[f].text() for f in ("final_test_acc", "best_test_acc", "gap")]
                     for p in content.found.points], "one row per group, over its finished seeds"))
    if content.configs:
        out.append(("Configs that differ", ["group"] + [safe(k) for k in content.configs],
                    [[safe(g.name)] + [_cell(v[i]) for v in content.configs.values()]
                     for i, g in enumerate(content.groups)], ""))
    out.append(("Runs", ["run", "name", "state", "epochs"],
                [[safe(i.run_id), safe(i.label), safe(i.state), f"{i.epoch}/{i.epochs}"] for i in content.infos], ""))
    return out


def environment_rows(env: dict[str, Any], content: Content) -> list[tuple[str, str]]:
    rows = [(name, version) for name, version in env["versions"].items()]
    for key, title in (("torch", "torch"), ("cuda", "CUDA"), ("cudnn", "cuDNN"), ("devices", "devices"),
                       ("hosts", "hosts")):
        rows.append((title, ", ".join(map(safe, env[key])) or "not recorded"))
    for d in env["datasets"]:
        rows.append((f"dataset {safe(d['dataset'])}", f"{safe(d['folder'])}: {safe(d['checksum'])}"))
    for g in content.groups:
        rows.append((f"repeat {safe(g.name)}", safe(repeat_command(g))))
    return rows


def _html_table(title: str, head: list[str], rows: list[list[str]], note: str) -> str:
    e = html.escape
    body = "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>" for row in rows)
    return (f"<h2>{e(title)}</h2><table><thead><tr>{''.join(f'<th>{e(h)}</th>' for h in head)}</tr></thead>"
            f"<tbody>{body}</tbody></table>" + (f"<p class=note>{e(note)}</p>" if note else ""))


def to_html(title: str, content: Content, figures: dict[str, tuple[str, str]], env: dict[str, Any]) -> str:
    e = html.escape
    parts = [f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{e(title)}</title>"
             f"<style>{STYLE}</style></head><body><h1>{e(title)}</h1>",
             f"<p class=note>{len(content.infos)} runs in {len(content.groups)} groups; written "
             f"{time.strftime('%Y-%m-%d %H:%M %Z')}</p>"]
    for t in tables(content):
        parts.append(_html_table(*t))
    for stem, (caption, svg) in figures.items():
        parts.append(f"<figure id={stem}>{svg}<figcaption>{e(caption)}</figcaption></figure>")
    parts.append(_html_table("Environment", ["", ""], [list(r) for r in environment_rows(env, content)], ""))
    parts.append("</body></html>\n")
    return "\n".join(parts)


def _md(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;").replace("\n", " ")


def _md_table(title: str, head: list[str], rows: list[list[str]], note: str) -> str:
    lines = [f"## {_md(title)}", "", "| " + " | ".join(map(_md, head)) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(map(_md, row)) + " |" for row in rows]
    return "\n".join(lines + (["", f"_{_md(note)}_"] if note else []) + [""])


def to_markdown(title: str, content: Content, figures: dict[str, tuple[str, str]], env: dict[str, Any]) -> str:
    parts = [f"# {_md(title)}", "", f"{len(content.infos)} runs in {len(content.groups)} groups.", ""]
    parts += [_md_table(*t) for t in tables(content)]
    for stem, (caption, _) in figures.items():
        parts += [f"![{_md(caption)}](figures/{stem}.svg)", "", f"_{_md(caption)}_", ""]
    parts.append(_md_table("Environment", ["what", "value"], [list(r) for r in environment_rows(env, content)], ""))
    return "\n".join(parts)


def write(dest: Path, title: str, content: Content, figures: dict[str, tuple[str, str]], env: dict[str, Any]
          ) -> list[Path]:
    """The files, each written whole (temp file, then rename)."""
    from ..store.files import write_text_atomic

    (dest / "figures").mkdir(parents=True, exist_ok=True)
    written = []
    for stem, (_, svg) in figures.items():
        path = dest / "figures" / f"{stem}.svg"
        write_text_atomic(path, svg)
        written.append(path)
    for name, text in (("report.md", to_markdown(title, content, figures, env)),
                       ("report.html", to_html(title, content, figures, env))):
        write_text_atomic(dest / name, text)
        written.append(dest / name)
    return written
