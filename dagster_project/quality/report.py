"""Validation reports as static HTML pages next to the data: what an operator opens after a
failed gate. One page per checked table or source system and as-of date, and an index of the
date's pages with their status; each page is replaced whole."""

import html
import json
from dataclasses import dataclass, field
from pathlib import Path

from ..core.clock import utc_now
from ..core.files import replace_file

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; width: 100%; } td, th { border: 1px solid #ccc; padding: 4px 8px;
vertical-align: top; text-align: left; } .passed { color: #1a7f37; } .failed { color: #cf222e; font-weight: bold; }
.warning { color: #9a6700; } code { font-size: 90%; }
"""


@dataclass
class ReportLine:
    check: str
    status: str  # passed | failed | warning
    details: str
    examples: list = field(default_factory=list)


def reports_dir(data_dir: Path, as_of) -> Path:
    return data_dir / "reports" / str(as_of)


def _replace(path: Path, text: str) -> None:
    replace_file(path, text.encode("utf-8"))


def write_report(directory: Path, name: str, title: str, lines: list[ReportLine], *, run_id: str | None) -> Path:
    """Write `<name>.html` (and its status for the index), then rebuild the index. Returns the page."""
    directory.mkdir(parents=True, exist_ok=True)
    status = "failed" if any(l.status == "failed" for l in lines) else (
        "warning" if any(l.status == "warning" for l in lines) else "passed")
    written = utc_now().strftime("%Y-%m-%d %H:%M:%S UTC")
    rows = "\n".join(
        f"<tr><td><code>{html.escape(l.check)}</code></td><td class='{l.status}'>{l.status}</td>"
        f"<td>{html.escape(l.details)}</td><td>{'<br>'.join(html.escape(str(e)) for e in l.examples[:10])}</td></tr>"
        for l in sorted(lines, key=lambda l: ({"failed": 0, "warning": 1}.get(l.status, 2), l.check))
    )
    page = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>"
        f"<p class='{status}'>{status.upper()}: {sum(l.status == 'failed' for l in lines)} failed, "
        f"{sum(l.status == 'warning' for l in lines)} warning(s), {sum(l.status == 'passed' for l in lines)} passed"
        f"</p><p>run {html.escape(run_id or '-')}, written {written}. <a href='index.html'>all checks of this date</a></p>"
        f"<table><tr><th>check</th><th>status</th><th>details</th><th>examples of offending rows</th></tr>"
        f"{rows}</table></body></html>"
    )
    path = directory / f"{name}.html"
    _replace(path, page)
    _replace(directory / f".{name}.status.json", json.dumps({"title": title, "status": status, "run_id": run_id}))
    _write_index(directory)
    return path


def _write_index(directory: Path) -> None:
    entries = []
    for status_file in sorted(directory.glob(".*.status.json")):
        name = status_file.name[1:-len(".status.json")]
        info = json.loads(status_file.read_text(encoding="utf-8"))
        entries.append(f"<tr><td><a href='{html.escape(name)}.html'>{html.escape(info['title'])}</a></td>"
                       f"<td class='{info['status']}'>{info['status']}</td><td>{html.escape(info['run_id'] or '-')}</td></tr>")
    _replace(
        directory / "index.html",
        f"<!doctype html><html><head><meta charset='utf-8'><title>Checks as of {directory.name}</title>"
        f"<style>{STYLE}</style></head><body><h1>Quality gate as of {directory.name}</h1>"
        f"<table><tr><th>page</th><th>status</th><th>run</th></tr>{''.join(entries)}</table></body></html>",
    )
