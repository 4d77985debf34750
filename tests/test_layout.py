"""Folder rules anyone can see, checked: only the trainer package imports torch; the engine imports no UI; no import cycle."""
import ast
import graphlib
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "tui_dropout"
# Imports of torch inside a function, where the torch side is reached on purpose and off the console's start-up:
# the dropout inspector (loaded in a thread when opened), the foreground launcher (training in the CLI's own
# process), a Slurm job's entry point (it runs the trainer), and the readers and fetches of the datasets
# torchvision reads (they run in the trainer's process and in `data fetch`).
LAZY_TORCH_ALLOWED = {"console/screens/inspector.py", "launch/foreground.py", "launch/slurm_job.py", "data/mnist.py",
                      "data/svhn.py"}


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


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_module(name: str) -> bool:
    rel = Path(*name.split("."))
    return (PACKAGE.parent / rel.with_suffix(".py")).is_file() or (PACKAGE.parent / rel / "__init__.py").is_file()


def _imported_modules(path: Path) -> set[str]:
    """Every tui_dropout module this file imports, at the top or inside a function."""
    here = _module_name(path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:  # `from pkg import mod` imports the module pkg.mod
                out.add(f"{base}.{alias.name}" if _is_module(f"{base}.{alias.name}") else base)
    return {m for m in out if m.split(".")[0] == PACKAGE.name and m != here}


def test_no_import_cycle_in_the_package():
    graph = {_module_name(p): _imported_modules(p) for p in sorted(PACKAGE.rglob("*.py"))}
    try:
        tuple(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as exc:
        raise AssertionError(f"import cycle: {' -> '.join(exc.args[1])}") from None


def test_plots_and_statistics_stay_out_of_the_console_start_up():
    """matplotlib only in the report's figures (the `report` extra); scipy only inside functions: neither is
    imported when a module loads, so the console never pays for them."""
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE)
        for name, at_top in imports(path):
            root = name.split(".")[0]
            if root == "matplotlib" and str(rel) != "report/figures.py":
                offenders.append(f"{rel}: {name}")
            if root in ("matplotlib", "scipy") and at_top:
                offenders.append(f"{rel}: {name} at module level")
    assert offenders == []
