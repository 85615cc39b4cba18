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

DROP_NAME = re.compile(r"^(?P<prefix>[a-z_]+)_(?P<day>\d{8})\.(?P<ext>csv|jsonl)$")


class FileRejected(Exception):
    """The whole file can't be loaded; the message says why."""

    def __init__(self, message: str, columns: dict[str, str | None] | None = None):
        super().__init__(message)
        self.columns = columns  # the columns the file did deliver, when it has a header


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


def drops_for(landing_dir: Path, entity: Entity) -> list[Path]:
    """Files of this entity in the landing folder, oldest export first."""
    if not landing_dir.is_dir():
        return []
    found = []
    for path in landing_dir.iterdir():
        match = DROP_NAME.match(path.name)
        if match and match["prefix"] == entity.file_prefix and match["ext"] == entity.file_format:
            found.append(path)
    return sorted(found, key=lambda p: (DROP_NAME.match(p.name)["day"], p.name))


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
    with io.open(path, "rb") as handle:
        return handle.read()
