"""Find runs: the filter language of the console's `/` and `dropout-tui runs --filter`, and the sort orders.

A filter is words, all of which must hold (a leading `!` negates one):

    D                  text anywhere: run id, name, label, preset, study, tags, note, state
    tag:best           a tag (exactly)          state:running   a state (prefix)
    preset:D           a preset (exactly)       study:2026112   a study id (prefix)
    p_fc>=0.3          a config field compared: = != < <= > >= ~ (~ is "contains")
    test>55            a figure: test, train, best, best_train (accuracy in percent), loss, gap (train - test,
                       percentage points), epoch, elapsed (seconds)

No torch, no UI."""
from __future__ import annotations

import math
import operator
import re
import shlex
from dataclasses import dataclass
from typing import Any, Callable

from .config import FIELD_TYPES
from .errors import FieldError
from .store import RunInfo

OPS: dict[str, Callable[[Any, Any], bool]] = {
    ">=": operator.ge, "<=": operator.le, "!=": operator.ne, "=": operator.eq, "==": operator.eq,
    ">": operator.gt, "<": operator.lt, "~": lambda a, b: str(b).lower() in str(a).lower(),
}
COMPARISON = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\s*(>=|<=|!=|==|=|>|<|~)\s*(.*)$")
KEYWORDS = ("tag", "state", "preset", "study", "name")


def _pct(value: float | None) -> float | None:
    return None if value is None else value * 100.0


def gap(info: RunInfo) -> float | None:
    """Final train minus final test accuracy, in percentage points: what dropout is there to shrink."""
    if info.final_train_acc is None or info.final_test_acc is None:
        return None
    return (info.final_train_acc - info.final_test_acc) * 100.0


# name -> (what it is, its value for a run). Accuracies in percent, as every list shows them.
FIGURES: dict[str, tuple[str, Callable[[RunInfo], Any]]] = {
    "test": ("final test accuracy, %", lambda i: _pct(i.final_test_acc)),
    "train": ("final train accuracy, %", lambda i: _pct(i.final_train_acc)),
    "best": ("best test accuracy, %", lambda i: _pct(i.best_test_acc)),
    "best_train": ("best train accuracy, %", lambda i: _pct(i.best_train_acc)),
    "loss": ("final loss", lambda i: i.final_loss),
    "gap": ("train - test accuracy, points", gap),
    "epoch": ("epochs done", lambda i: i.epoch),
    "elapsed": ("training seconds", lambda i: i.elapsed),
}


class QueryError(FieldError, ValueError):
    """A filter or sort that cannot be used; one line naming the word at fault."""


@dataclass(frozen=True)
class Term:
    text: str
    negate: bool
    test: Callable[[RunInfo], bool]

    def __call__(self, info: RunInfo) -> bool:
        try:
            return self.test(info) != self.negate
        except (TypeError, ValueError):  # a value of another type than compared with: not a match
            return self.negate


def _searchable(info: RunInfo) -> str:
    return " ".join([info.run_id, info.name, info.study_label, info.preset, info.study, info.state,
                     " ".join(info.tags), info.note]).lower()


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _value_test(name: str, op: str, raw: str, get: Callable[[RunInfo], Any], kind: Any) -> Callable[[RunInfo], bool]:
    compare = OPS[op]
    if op == "~":
        return lambda info: (value := get(info)) is not None and compare(value, raw)
    if kind in (int, float):
        target = _number(raw)
        if target is None:
            raise QueryError("filter", f"{name}{op}{raw!r}: {name} is a number, {raw!r} is not")
        return lambda info: isinstance(value := get(info), (int, float)) and not isinstance(value, bool) \
            and compare(value, target)
    if kind is bool:
        if raw.lower() not in ("true", "false", "1", "0", "yes", "no", "on", "off"):
            raise QueryError("filter", f"{name}{op}{raw!r}: {name} is true or false")
        target_bool = raw.lower() in ("true", "1", "yes", "on")
        return lambda info: isinstance(value := get(info), bool) and compare(value, target_bool)
    if op not in ("=", "==", "!="):
        raise QueryError("filter", f"{name}{op}{raw!r}: {name} is text; compare it with =, != or ~")
    return lambda info: (value := get(info)) is not None and compare(str(value).lower(), raw.lower())


def _term(word: str) -> Term:
    negate = word.startswith("!")
    body = word[1:] if negate else word
    if not body:
        raise QueryError("filter", "a lone '!' negates nothing")
    key, colon, rest = body.partition(":")
    if colon and key.lower() in KEYWORDS and "=" not in key:
        key, value = key.lower(), rest.lower()
        if not value:
            raise QueryError("filter", f"{key}: needs a value ({key}:WORD)")
        tests: dict[str, Callable[[RunInfo], bool]] = {
            "tag": lambda i: value in (t.lower() for t in i.tags),
            "state": lambda i: i.state.startswith(value),
            "preset": lambda i: i.preset.lower() == value,
            "study": lambda i: i.study.lower().startswith(value) and bool(i.study),
            "name": lambda i: value in i.name.lower(),
        }
        return Term(word, negate, tests[key])
    match = COMPARISON.match(body)
    if match:
        name, op, raw = match.groups()
        if name in FIGURES:
            return Term(word, negate, _value_test(name, op, raw, FIGURES[name][1], float))
        if name in FIELD_TYPES:
            kind = FIELD_TYPES[name]
            return Term(word, negate, _value_test(name, op, raw, lambda i: i.config.get(name), kind))
        raise QueryError("filter", f"unknown field {name!r} (figures: {', '.join(FIGURES)}; or a config field such "
                         f"as p_fc, lr, seed)")
    text = body.lower()
    return Term(word, negate, lambda i: text in _searchable(i))


def parse_filter(text: str) -> list[Term]:
    """The terms of a filter; QueryError names the first word that cannot be used."""
    try:
        words = shlex.split(text)
    except ValueError as exc:
        raise QueryError("filter", str(exc)) from None
    return [_term(word) for word in words]


def matches(info: RunInfo, terms: list[Term]) -> bool:
    return all(term(info) for term in terms)


def filter_runs(infos: list[RunInfo], text: str) -> list[RunInfo]:
    terms = parse_filter(text)
    return [info for info in infos if matches(info, terms)] if terms else list(infos)


# name -> (title, key, descending by default). Runs without the value go last either way.
SORTS: dict[str, tuple[str, Callable[[RunInfo], Any], bool]] = {
    "newest": ("newest first", lambda i: (i.created, i.run_id), True),
    "best": ("best test accuracy", FIGURES["best"][1], True),
    "test": ("final test accuracy", FIGURES["test"][1], True),
    "loss": ("final loss", FIGURES["loss"][1], False),
    "gap": ("generalisation gap", gap, False),
    "name": ("name", lambda i: i.label.lower(), False),
    "state": ("state", lambda i: i.state, False),
}


def sort_runs(infos: list[RunInfo], by: str = "newest", reverse: bool = False) -> list[RunInfo]:
    """Sorted by `by` (SORTS, or a config field), its natural direction flipped by `reverse`; runs that lack the
    value keep their order at the end."""
    if by in SORTS:
        key, descending = SORTS[by][1], SORTS[by][2]
    elif by in FIELD_TYPES:
        key, descending = (lambda i: i.config.get(by)), False
    else:
        raise QueryError("sort", f"unknown column {by!r} (one of {', '.join(SORTS)}, or a config field)")
    return sort_by(infos, key, descending != reverse)


def sort_by(infos: list[RunInfo], key: Callable[[RunInfo], Any], descending: bool) -> list[RunInfo]:
    """Sorted by key(info); runs without a value (None, NaN) keep their order at the end."""
    have, lack = [], []
    for info in infos:
        value = key(info)
        ok = value is not None and not (isinstance(value, float) and math.isnan(value))
        (have if ok else lack).append((value, info))
    try:
        have.sort(key=lambda pair: pair[0], reverse=descending)
    except TypeError:  # mixed types in a hand-edited config: compare as text
        have.sort(key=lambda pair: str(pair[0]), reverse=descending)
    return [info for _, info in have] + [info for _, info in lack]
