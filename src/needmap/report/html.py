"""The report page: one self-contained HTML file that reads the same offline as online.

Everything is inline: the CSS in a ``<style>`` element, the charts as ``<svg>`` (see
:mod:`needmap.report.chart_frame`); there is no script, no stylesheet link, no image or font fetched from
anywhere, and no web address in the page. Every piece of text from data (column names, values,
file names) goes through :func:`html.escape` (:func:`needmap.report.text.esc`).

The page is a list of sections, each ``<section id="...">`` with a heading, reachable from the
contents at the top (``#summary``, ``#profile``, ``#drift``, ...).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from needmap._version import __version__
from needmap.metrics.names import METRIC_NAMES
from needmap.report.text import esc

CSS = """
:root { --ink: #1d2733; --muted: #5b6875; --line: #d9dee4; --card: #fff; --page: #f4f6f8; --accent: #1f5fbf; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--page); color: var(--ink);
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
header { background: #16324f; color: #fff; padding: 20px 32px 14px; }
header h1 { margin: 0 0 4px; font-size: 24px; font-weight: 600; }
header p { margin: 0; color: #c9d6e3; }
nav { background: #fff; border-bottom: 1px solid var(--line); padding: 8px 32px; position: sticky; top: 0; z-index: 1; }
nav a { color: var(--accent); text-decoration: none; margin-right: 14px; font-size: 14px; white-space: nowrap; }
main { max-width: 1120px; margin: 0 auto; padding: 16px 24px 48px; }
section { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 16px 22px;
  margin: 16px 0; }
section h2 { margin: 0 0 10px; font-size: 19px; }
section h3 { margin: 18px 0 6px; font-size: 15px; }
p.note { color: var(--muted); font-style: italic; margin: 6px 0; }
p.explain { color: var(--muted); margin: 4px 0 10px; font-size: 14px; }
.verdict { border-left: 6px solid var(--accent); background: #eef4fc; padding: 12px 16px; margin: 10px 0;
  font-size: 16px; border-radius: 4px; }
.verdict.deep-better { border-color: #2e8b57; background: #edf7f1; }
.verdict.use-baseline { border-color: #d9730d; background: #fdf3ea; }
.facts { display: grid; grid-template-columns: repeat(auto-fill, minmax(210px, 1fr)); gap: 8px 18px; margin: 8px 0; }
.facts div { border-bottom: 1px dotted var(--line); padding: 2px 0; overflow-wrap: anywhere; min-width: 0; }
.facts span { color: var(--muted); display: block; font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
table { border-collapse: collapse; width: 100%; margin: 8px 0; font-size: 13.5px; }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: #f0f3f6; font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tr:nth-child(even) td { background: #fafbfc; }
.scroll { overflow-x: auto; }
.badge { display: inline-block; padding: 0 8px; border-radius: 10px; font-size: 12px; font-weight: 600; }
.badge.stable { background: #e3f4ea; color: #1e6b40; }
.badge.moderate { background: #fdf0dc; color: #8a5300; }
.badge.large, .badge.absent { background: #fbe4e2; color: #a12a1e; }
svg.chart { max-width: 100%; height: auto; display: block; margin: 6px 0; }
svg.chart.spark { display: inline-block; margin: 0; }
svg.chart text { font: 11px system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif; fill: #333; }
svg.chart .axis-title { font-size: 12px; fill: var(--muted); }
svg.chart .grid { stroke: #edf0f3; }
small.key { color: var(--muted); font-size: 11px; margin-left: 5px;
  font-family: ui-monospace, Menlo, Consolas, monospace; }
.meaning { display: block; color: var(--muted); font-size: 12px; font-weight: 400; }
.charts { display: grid; grid-template-columns: 1fr; gap: 4px; }
footer { text-align: center; color: var(--muted); font-size: 12px; padding: 12px; }
@media print { nav { display: none; } section { break-inside: avoid; } }
"""


class Raw(str):
    """Text that is already HTML (a chart, a badge): a table cell or a section body puts it in as it is."""


@dataclass
class Section:
    """One part of the page: ``<section id=ident>`` with a heading and a body of HTML."""

    ident: str
    heading: str
    body: str


def cell(value: object) -> str:
    """A table cell's HTML: :class:`Raw` as it is, anything else escaped."""
    return str(value) if isinstance(value, Raw) else esc(value)


def table(headers: Sequence[object], rows: Iterable[Sequence[object]], *, numeric: Sequence[int] = ()) -> str:
    """An HTML table; ``numeric`` lists the column positions aligned right (headers and cells: text, or
    :class:`Raw` HTML)."""
    right = set(numeric)
    head = "".join(f"<th{' class=num' if i in right else ''}>{cell(h)}</th>" for i, h in enumerate(headers))
    body = "".join(
        "<tr>" + "".join(f"<td{' class=num' if i in right else ''}>{cell(v)}</td>" for i, v in enumerate(row)) + "</tr>"
        for row in rows
    )
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def note(text: str) -> str:
    """A line saying why a part of the page is empty."""
    return f'<p class="note">{esc(text)}</p>'


def explain(text: str) -> str:
    """A line saying how to read a chart or table."""
    return f'<p class="explain">{esc(text)}</p>'


def verdict_box(text: str) -> str:
    """The verdict in a visible box, coloured by what it says."""
    lowered = text.lower()
    kind = "deep-better" if "deep model is better" in lowered else "use-baseline" if lowered.startswith("use ") else ""
    return f'<div class="verdict {kind}" data-verdict>{esc(text)}</div>'


def metric_label(key: str, *, meaning: bool = False) -> Raw:
    """A metric's plain name with its technical name in small print (and, with ``meaning``, its one-line
    explanation under it), from :data:`needmap.metrics.names.METRIC_NAMES`."""
    entry = METRIC_NAMES.get(key)
    if entry is None:
        return Raw(esc(key))
    text = f'{esc(entry.plain)}<small class="key">{esc(key)}</small>'
    if meaning:
        text += f'<span class="meaning">{esc(entry.meaning)}</span>'
    return Raw(f'<span title="{esc(entry.meaning)}">{text}</span>')


def badge(label: str) -> Raw:
    """A coloured label such as "stable", "moderate", "large"."""
    return Raw(f'<span class="badge {esc(label)}">{esc(label)}</span>')


def facts(items: Iterable[tuple[str, object]]) -> str:
    """Name/value pairs in a grid; pairs whose value is None are left out."""
    cells = "".join(f"<div><span>{esc(k)}</span>{cell(v)}</div>" for k, v in items if v is not None)
    return f'<div class="facts">{cells}</div>'


def page(title: str, subtitle: str, sections: Sequence[Section]) -> str:
    """The whole HTML document: header, contents, the sections in order, footer."""
    nav = " ".join(f'<a href="#{esc(s.ident)}">{esc(s.heading)}</a>' for s in sections)
    body = "".join(f'<section id="{esc(s.ident)}"><h2>{esc(s.heading)}</h2>{s.body}</section>' for s in sections)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{CSS}</style></head><body>"
        f"<header><h1>{esc(title)}</h1><p>{esc(subtitle)}</p></header>"
        f"<nav>{nav}</nav><main>{body}</main>"
        f"<footer>made by needmap {esc(__version__)}: one file, no scripts, readable offline</footer>"
        "</body></html>\n"
    )
