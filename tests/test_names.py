"""Names the code shares, checked: run states are State members, project errors derive from one base."""
import ast
import importlib
import inspect
import json
import pickle
import pkgutil
from pathlib import Path

import pytest

import tui_dropout
from tui_dropout.config import ConfigError
from tui_dropout.data import DataError
from tui_dropout.errors import DropoutTuiError
from tui_dropout.states import STATES, State
from tui_dropout.store import RunDir, RunNotFound, RunStore
from tui_dropout.store.notes import NotesError, check_tags

PACKAGE = Path(tui_dropout.__file__).parent
WORDS = {s.value for s in State}


def state_literals(source: str):
    """(line, word) for each run-state word written as a string literal: docstrings are prose, and a dict whose keys
    are not all states is keyed by field names (status.json has a `queued` time beside its `state`)."""
    tree = ast.parse(source)
    skip = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and body:
            if isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                skip.add(id(body[0].value))
        if isinstance(node, ast.Dict):
            keys = [k for k in node.keys if k is not None]
            if not all(isinstance(k, ast.Constant) and k.value in WORDS for k in keys):
                skip.update(map(id, keys))
        if isinstance(node, ast.JoinedStr):
            skip.update(map(id, node.values))
    return [(n.lineno, n.value) for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and isinstance(n.value, str) and n.value in WORDS and id(n) not in skip]


def test_the_scan_finds_a_state_word_and_passes_field_names_and_prose():
    source = 'def f(s):\n    """A "running" run."""\n    return s == "running" or {"queued": 1.0, "pid": 2}\n'
    assert state_literals(source) == [(3, "running")]
    assert state_literals('STYLES = {"lost": "red", "failed": "red"}') == [(1, "lost"), (1, "failed")]


def test_no_run_state_is_written_as_a_string_outside_the_enum():
    found = [f"{path.relative_to(PACKAGE)}:{line}: {word!r}" for path in sorted(PACKAGE.rglob("*.py"))
             if path != PACKAGE / "states.py" for line, word in state_literals(path.read_text())]
    assert found == [], "use State members instead of: " + ", ".join(found)


def test_status_json_holds_the_same_words_as_before(runs_dir):
    run = RunStore(runs_dir).create({"preset": "B", "epochs": 5})
    run.update_status(state=State.CANCELLED)
    text = (run.path / "status.json").read_text()
    assert '"state": "cancelled"' in text
    state = json.loads(text)["state"]
    assert type(state) is str and state == "cancelled"
    assert RunDir(run.path).info().state == State.CANCELLED
    assert [str(s) for s in STATES] == ["queued", "running", "finished", "failed", "cancelled", "lost"]


def _project_modules():
    for info in pkgutil.walk_packages([str(PACKAGE)], prefix="tui_dropout."):
        if not info.name.endswith("__main__"):
            yield importlib.import_module(info.name)


def test_every_project_exception_derives_from_the_base():
    errors = {cls for module in _project_modules() for _, cls in inspect.getmembers(module, inspect.isclass)
              if issubclass(cls, BaseException) and cls.__module__.startswith("tui_dropout.")}
    assert len(errors) >= 10  # the walk did reach the modules that define them
    assert sorted(c.__qualname__ for c in errors if not issubclass(c, DropoutTuiError)) == []


def test_errors_carry_their_field_and_reason(runs_dir):
    with pytest.raises(RunNotFound) as caught:
        RunStore(runs_dir).find("zzzz")
    assert (caught.value.field, caught.value.ref) == ("run", "zzzz")
    assert str(caught.value) == f"run: {caught.value.reason}" and caught.value.reason.startswith("no run matches")
    with pytest.raises(NotesError) as bad_tag:
        check_tags("a\x1bb")
    assert bad_tag.value.field in ("tag", "tags") and "\x1b" not in bad_tag.value.reason
    error = DataError("timeout", "must be a number")
    assert (error.field, error.reason, str(error)) == ("timeout", "must be a number", "timeout: must be a number")
    assert DataError("x.bin is truncated").field is None
    assert str(ConfigError("lr", "must be > 0")) == "lr: must be > 0"


def test_project_errors_are_still_caught_as_the_builtins_they_were():
    assert issubclass(ConfigError, ValueError) and issubclass(DataError, RuntimeError)
    assert issubclass(RunNotFound, KeyError) and issubclass(NotesError, ValueError)


def test_errors_with_a_field_survive_pickling_as_a_slurm_job_result_does():
    errors = [ConfigError("lr", "must be > 0"), DataError("timeout", "must be a number"), DataError("x is truncated"),
              RunNotFound("zz", "no run matches 'zz'"), NotesError("tag", "not a tag")]
    for error in errors:
        back = pickle.loads(pickle.dumps(error))
        assert type(back) is type(error) and str(back) == str(error)
        assert (back.field, back.reason) == (error.field, error.reason)
    assert pickle.loads(pickle.dumps(errors[3])).ref == "zz"


def test_run_names_checked_one_by_one_or_all_at_once_agree():
    from tui_dropout.store.names import RUN_NAME, all_run_names

    good = ["20261201-100000-A-done", "a.b_c-1", "_x"]
    assert all(RUN_NAME.match(n) for n in good) and all_run_names(good) and all_run_names([])
    for bad in (".archive", "a/b", "", "x\n", "..", "-x", "a b", "\u202eab"):
        assert not RUN_NAME.match(bad) and not all_run_names([*good, bad]), repr(bad)
