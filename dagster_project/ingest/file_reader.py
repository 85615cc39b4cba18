"""Read CSV and JSON Lines drops line by line, keeping every line's number.

A line that can't be decoded or split into the contract's fields is rejected on its
own with its line number; the rest of the file loads. A file that can't be read at all
(empty, no header, a contract column missing) is rejected whole, by name and reason.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from ..core.contract import Entity

# <prefix>_<YYYYMMDD>.<csv|jsonl>, optionally gzip-compressed (.gz): lower case, as exported.
DROP_NAME = re.compile(r"^(?P<prefix>[a-z_]+)_(?P<day>\d{8})\.(?P<ext>csv|jsonl)(?P<gz>\.gz)?$")


class FileRejected(Exception):
    """The whole file can't be loaded; the message says why."""

    def __init__(self, message: str, columns: dict[str, str | None] | None = None):
        super().__init__(message)
        self.columns = columns  # the columns the file did deliver, when it has a header


class LandingFolderError(ValueError):
    """The landing folder cannot be listed as configured (missing, not a folder, no permission):
    retrying will not change that, so the night fails at once with this message."""


def check_landing_dir(landing_dir: Path, setting: str = "CVW_LANDING_DIR") -> None:
    """Raise LandingFolderError with the cause and what to do, or return quietly."""
    import getpass
    import os

    landing_dir = Path(landing_dir)
    if not landing_dir.exists():
        raise LandingFolderError(
            f"{setting} {landing_dir} does not exist: create it (an empty folder if no CRM, referral or review "
            f"files are delivered) or point {setting} at the folder the files are dropped in")
    if not landing_dir.is_dir():
        raise LandingFolderError(f"{setting} {landing_dir} is a file, not a folder: point {setting} at the folder "
                                 "the CRM, referral and review files are dropped in")
    if not os.access(landing_dir, os.R_OK | os.X_OK):
        raise LandingFolderError(
            f"{setting} {landing_dir}: permission denied for user {getpass.getuser()!r}; grant it read access "
            f"(e.g. chmod o+rx {landing_dir}, or run the pipeline as the folder's owner)")


@dataclass
class ParsedFile:
    rows: pa.Table
    # (line number, the line as delivered, reason)
    rejects: list[tuple[int, str, str]] = field(default_factory=list)
    # {column: its JSON type, the most frequent among non-null values (None for CSV)}
    columns: dict[str, str | None] = field(default_factory=dict)


def _json_type(value) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return "object" if isinstance(value, dict) else "array"


@dataclass
class LandingSurvey:
    """What the landing folder holds: the drops of each kind (prefix, format), oldest export
    first; entries named like a drop that cannot be one (name: reason); and entries that are
    not named like any drop (name: what a drop's name looks like). Hidden entries (".x") and
    the pipeline's own partial files are not looked at."""

    drops: dict[tuple[str, str], list[Path]] = field(default_factory=dict)
    rejected: dict[str, tuple[tuple[str, str], str]] = field(default_factory=dict)
    unrecognised: dict[str, str] = field(default_factory=dict)

    def drops_of(self, entity: Entity) -> list[Path]:
        return self.drops.get((entity.file_prefix, entity.file_format), [])

    def not_loaded(self) -> dict[str, str]:
        """Every entry not loaded, rejected or unrecognised: name -> reason."""
        return {**{name: reason for name, (_, reason) in self.rejected.items()}, **self.unrecognised}

    def rejected_of(self, entity: Entity) -> dict[str, str]:
        kind = (entity.file_prefix, entity.file_format)
        return {name: reason for name, (of, reason) in self.rejected.items() if of == kind}


def _not_a_file(path: Path) -> str | None:
    """Why this entry cannot be read as a file (None if it can)."""
    import os
    import stat

    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return "it disappeared while the folder was read"
    if stat.S_ISLNK(mode):
        try:
            target = os.stat(path).st_mode
        except FileNotFoundError:
            return f"a symbolic link to nothing ({os.readlink(path)})"
        except OSError as error:  # ELOOP
            return f"a symbolic link that cannot be followed ({error.strerror.lower()})"
        mode = target
    if stat.S_ISDIR(mode):
        return "a directory, not a file"
    if not stat.S_ISREG(mode):
        return "not a regular file (a device, pipe or socket)"
    if not os.access(path, os.R_OK):
        return "cannot be read: permission denied"
    return None


def survey_landing(landing_dir: Path, entities) -> LandingSurvey:
    """Sort every entry of the landing folder (see LandingSurvey); `entities` are the file
    entities of the contract. An entry is judged by its name, then by what it is."""
    from datetime import datetime

    kinds = {(e.file_prefix, e.file_format) for e in entities}
    examples = ", ".join(sorted(f"{prefix}_YYYYMMDD.{ext}" for prefix, ext in kinds))
    survey = LandingSurvey(drops={kind: [] for kind in kinds})
    if not Path(landing_dir).is_dir():
        return survey
    for path in sorted(Path(landing_dir).iterdir()):
        name = path.name
        if name.startswith("."):
            continue
        match = DROP_NAME.match(name)
        kind = (match["prefix"], match["ext"]) if match else None
        if kind not in kinds:
            survey.unrecognised[name] = _unrecognised_reason(name, kinds, examples)
            continue
        try:
            datetime.strptime(match["day"], "%Y%m%d")
        except ValueError:
            survey.rejected[name] = (kind, f"{match['day']} in the name is not a calendar date (YYYYMMDD)")
            continue
        problem = _not_a_file(path)
        if problem:
            survey.rejected[name] = (kind, problem)
            continue
        survey.drops[kind].append(path)
    for found in survey.drops.values():
        found.sort(key=lambda p: (DROP_NAME.match(p.name)["day"], p.name))
    return survey


def _unrecognised_reason(name: str, kinds, examples: str) -> str:
    lowered = name.lower()
    for prefix, ext in sorted(kinds):
        if lowered.startswith(prefix):
            return (f"looks like a {prefix} drop but is not named {prefix}_YYYYMMDD.{ext} (lower case, an 8-digit "
                    f"date, optionally .gz): not loaded")
    return f"not named like any drop ({examples}, optionally .gz): not loaded"


def drops_for(landing_dir: Path, entity: Entity) -> list[Path]:
    """Files of this entity in the landing folder, oldest export first."""
    return survey_landing(landing_dir, [entity]).drops_of(entity)


def _lines(data: bytes) -> list[tuple[int, bytes]]:
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return [(number, line.rstrip(b"\r")) for number, line in enumerate(lines, start=1)]


def _decode(number: int, line: bytes, rejects: list) -> str | None:
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError as error:
        rejects.append((number, line.decode("utf-8", errors="replace"), f"not valid UTF-8 at byte {error.start}"))
        return None


def _text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)
    return str(value)


def _table(entity: Entity, file_name: str, records: list[tuple[int, str, dict]]) -> pa.Table:
    data = {
        name: pa.array([_text(fields.get(name)) for _, _, fields in records], pa.string())
        for name in entity.column_names
    }
    data["_source_file"] = pa.array([file_name] * len(records), pa.string())
    data["_source_row"] = pa.array([number for number, _, _ in records], pa.int64())
    data["_record"] = pa.array([line for _, line, _ in records], pa.string())
    return pa.table(data)


def parse_csv(entity: Entity, file_name: str, data: bytes) -> ParsedFile:
    lines = _lines(data)
    if not lines:
        raise FileRejected("empty file: no header row")
    rejects: list = []
    header_line = _decode(*lines[0], rejects)
    if header_line is None:
        raise FileRejected("header row is not valid UTF-8")
    header = [h.strip().lstrip("\ufeff") for h in next(csv.reader([header_line]))]
    missing = [c for c in entity.column_names if c not in header]
    if missing:
        raise FileRejected(f"header lacks contract column(s): {', '.join(missing)}", dict.fromkeys(header))
    records = []
    for number, raw in lines[1:]:
        line = _decode(number, raw, rejects)
        if line is None:
            continue
        if not line.strip():
            continue
        try:
            values = next(csv.reader([line], strict=True))
        except csv.Error as error:
            rejects.append((number, line, f"unparseable CSV line: {error}"))
            continue
        if len(values) != len(header):
            rejects.append((number, line, f"expected {len(header)} fields, found {len(values)}"))
            continue
        fields = {name: (value if value != "" else None) for name, value in zip(header, values)}
        records.append((number, line, fields))
    return ParsedFile(_table(entity, file_name, records), rejects, dict.fromkeys(header))


def parse_jsonl(entity: Entity, file_name: str, data: bytes) -> ParsedFile:
    if not data.strip():
        raise FileRejected("empty file")
    rejects: list = []
    records = []
    for number, raw in _lines(data):
        line = _decode(number, raw, rejects)
        if line is None or not line.strip():
            continue
        try:
            fields = json.loads(line)
        except json.JSONDecodeError as error:
            rejects.append((number, line, f"unparseable JSON: {error.msg} at column {error.colno}"))
            continue
        if not isinstance(fields, dict):
            rejects.append((number, line, "JSON line is not an object"))
            continue
        records.append((number, line, fields))
    return ParsedFile(_table(entity, file_name, records), rejects, _json_columns(records))


def _json_columns(records: list[tuple[int, str, dict]]) -> dict[str, str | None]:
    kinds: dict[str, Counter] = {}
    for _, _, fields in records:
        for name, value in fields.items():
            counter = kinds.setdefault(name, Counter())
            if value is not None:
                counter[_json_type(value)] += 1
    return {name: (counter.most_common(1)[0][0] if counter else None) for name, counter in kinds.items()}


def parse_file(entity: Entity, path: Path, data: bytes) -> ParsedFile:
    parser = parse_csv if entity.file_format == "csv" else parse_jsonl
    return parser(entity, path.name, data)


def read_bytes(path: Path) -> bytes:
    """The file's bytes as delivered (compressed or not)."""
    with io.open(path, "rb") as handle:
        return handle.read()


def decoded(path: Path, data: bytes) -> bytes:
    """The drop's content: `data` decompressed if the name ends in .gz (FileRejected if that fails)."""
    if path.name.endswith(".gz"):
        import gzip
        import zlib

        try:
            return gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as error:
            raise FileRejected(f"not a readable gzip file: {error}") from None
    return data
