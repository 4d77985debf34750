"""A run's name, tags and free-text note (`notes.json`): what a user says of a run, set at launch or later.

Written only by `label`, the console and a launch, never by the trainer, so it never races a status write; every
value is checked on the way in and again on the way out (a hand-edited file reads as a problem, not a crash)."""
from __future__ import annotations

import errno
import re
from pathlib import Path
from typing import Any

from ..errors import FieldError
from ..safetext import BIDI, SEPARATORS
from .files import DamagedFile, file_lock, read_json, write_json_atomic

NAME_MAX = 80
NOTE_MAX = 10_000
TAG = re.compile(r"^(?!-)[\w.+/=@-]{1,40}$")  # one word: letters, digits and . + / = @ - _ (not first: -)
NOTES_LOCK = ".notes.lock"


class NotesError(FieldError, ValueError):
    """A name, tag or note that cannot be stored: `field` says which (name, tag, tags, note), `reason` why."""


def _no_control(field: str, text: str, allowed: str = "") -> None:
    """Control characters (an escape sequence would reach every terminal that lists the run) are refused."""
    if any((ord(c) < 32 or 127 <= ord(c) < 160) and c not in allowed for c in text):
        raise NotesError(field, "control characters are not allowed")
    if any(c in BIDI or c in SEPARATORS for c in text):  # shown reversed or broken across lines
        raise NotesError(field, "bidi controls and line separators (U+202E and the like) are not allowed")


def check_name(name: str) -> str:
    _no_control("name", name, allowed=" \t")
    name = " ".join(name.split())
    if len(name) > NAME_MAX:
        raise NotesError("name", f"at most {NAME_MAX} characters, got {len(name)}")
    return name


def launch_name(name: str, label: str) -> str:
    """A launch's name for one of several runs: the name, then the run's label; the name is cut short (never the
    label, which tells the runs apart) so the whole fits NAME_MAX."""
    room = NAME_MAX - len(label) - 1
    if room < 1:
        return label[:NAME_MAX]
    return f"{name if len(name) <= room else name[:max(room - 1, 0)] + '…'} {label}"


def check_tags(tags: list[str] | str) -> list[str]:
    """Tags from a list or a comma/space separated text, each checked, without repeats, in the order given."""
    if isinstance(tags, str):
        tags = tags.replace(",", " ").split()
    out: list[str] = []
    for tag in tags:
        tag = tag.strip()
        if not TAG.match(tag):
            raise NotesError("tag", f"{tag!r} is not a tag (one word of at most 40 letters, digits or ._-+/=@, "
                             "not starting with -)")
        if tag not in out:
            out.append(tag)
    return out


def check_note(note: str) -> str:
    note = note.strip()
    if len(note) > NOTE_MAX:
        raise NotesError("note", f"at most {NOTE_MAX} characters, got {len(note)}")
    _no_control("note", note, allowed="\n\t")
    return note


def read_notes(path: Path) -> tuple[dict[str, Any], str | None]:
    """({"name", "tags", "note"}, problem): an absent file is no notes; a damaged one gives what could be read
    and a line saying what is wrong."""
    empty: dict[str, Any] = {"name": "", "tags": [], "note": ""}
    try:
        data = read_json(path)
    except DamagedFile as exc:
        return empty, str(exc)
    except OSError as exc:
        return empty, f"notes.json cannot be read: {exc.strerror or exc}"
    if data is None:
        return empty, None
    out, problems = dict(empty), []
    for key, check in (("name", check_name), ("tags", check_tags), ("note", check_note)):
        value = data.get(key)
        if value is None:
            continue
        if key == "tags" and not (isinstance(value, list) and all(isinstance(t, str) for t in value)):
            problems.append("tags is not a list of words")
            continue
        if key != "tags" and not isinstance(value, str):
            problems.append(f"{key} is not text")
            continue
        try:
            out[key] = check(value)
        except NotesError as exc:
            problems.append(str(exc))
    return out, ("notes.json: " + "; ".join(problems)) if problems else None


def update_notes(folder: Path, name: str | None = None, tags: list[str] | None = None,
                 add_tags: list[str] | None = None, remove_tags: list[str] | None = None,
                 note: str | None = None) -> dict[str, Any]:
    """Change what is given (None leaves a value alone; "" clears it) in one locked read-modify-write."""
    changes: dict[str, Any] = {}
    if name is not None:
        changes["name"] = check_name(name)
    if note is not None:
        changes["note"] = check_note(note)
    add = check_tags(add_tags or [])
    remove = set(check_tags(remove_tags or []))
    replace = check_tags(tags) if tags is not None else None
    folder = Path(folder)
    if folder.is_symlink():  # a run folder that is a link: nothing is written through it
        raise OSError(errno.ELOOP, "the run folder is a link, not a folder (links are not followed)", str(folder))
    with file_lock(folder / NOTES_LOCK):
        current, _ = read_notes(folder / "notes.json")  # a damaged file is replaced by what can be read of it
        current.update(changes)
        merged = replace if replace is not None else current["tags"]
        current["tags"] = [t for t in merged + [t for t in add if t not in merged] if t not in remove]
        write_json_atomic(folder / "notes.json", current)
    return current
