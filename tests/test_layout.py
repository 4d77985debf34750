"""Folder rules anyone can see, checked: only the trainer package imports torch; the engine imports no UI."""
import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "tui_dropout"
# Imports of torch inside a function, where the torch side is reached on purpose and off the console's start-up:
# the dropout inspector (loaded in a thread when opened), foreground training in the CLI's own process, and a
# Slurm job's entry point (it runs the trainer).
LAZY_TORCH_ALLOWED = {"console/screens/inspector.py", "cli/train.py", "launch/slurm_job.py"}


def imports(path: Path):
    """(module imported, at module level?) for every import in the file."""
    tree = ast.parse(path.read_text())
    top = set(map(id, tree.body))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [("." * node.level) + (node.module or "")]
        else:
            continue
        for name in names:
            yield name, id(node) in top


def reaches_torch(name: str, rel: Path) -> bool:
    if name.split(".")[0] in ("torch", "torchvision"):
        return True
    if name.startswith("."):  # relative: does it land in tui_dropout/trainer?
        level = len(name) - len(name.lstrip("."))
        base = list(rel.parent.parts)[: len(rel.parent.parts) - (level - 1)] if level > 1 else list(rel.parent.parts)
        target = base + [p for p in name.lstrip(".").split(".") if p]
        return target[:1] == ["trainer"]
    return name.startswith("tui_dropout.trainer")


def test_only_the_trainer_package_imports_torch():
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE)
        if rel.parts[0] == "trainer":
            continue
        for name, at_top in imports(path):
            if reaches_torch(name, rel) and (at_top or str(rel) not in LAZY_TORCH_ALLOWED):
                offenders.append(f"{rel}: {name}")
    assert offenders == []


def test_the_engine_side_imports_no_ui():
    ui = ("textual", "textual_plotext", "plotext", "typer", "rich")
    offenders = []
    for folder in ("trainer", "store", "launch", "data"):
        for path in sorted((PACKAGE / folder).rglob("*.py")):
            for name, _ in imports(path):
                if name.split(".")[0] in ui:
                    offenders.append(f"{path.relative_to(PACKAGE)}: {name}")
    assert offenders == []
