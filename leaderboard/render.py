"""Rendering: one Jinja2 environment with autoescaping on for every template, and the only markup the
site passes through unescaped: its own stylesheet and sort script (constants below, allowed by a CSP
hash). Nothing a student wrote is ever marked safe.
"""

from __future__ import annotations

import base64
import hashlib
from functools import lru_cache

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from course.resources import data_path

SORT_JS = """(function () {
  function key(cell, type) {
    var v = cell.getAttribute("data-v");
    if (v === null) { v = cell.textContent.trim(); }
    if (type === "num") { if (v === "") { return null; } var n = parseFloat(v); return isNaN(n) ? null : n; }
    return v.toLowerCase();
  }
  var tables = document.querySelectorAll("table.sortable");
  Array.prototype.forEach.call(tables, function (table) {
    var heads = table.tHead.rows[0].cells;
    Array.prototype.forEach.call(heads, function (th, col) {
      var button = th.querySelector("button");
      if (!button) { return; }
      button.addEventListener("click", function () {
        var type = th.getAttribute("data-type") || "text";
        var now = th.getAttribute("aria-sort");
        var dir = now === "ascending" ? "descending" : now === "descending" ? "ascending"
          : (th.getAttribute("data-first") || "ascending");
        Array.prototype.forEach.call(heads, function (h) { h.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", dir);
        var sign = dir === "ascending" ? 1 : -1;
        var body = table.tBodies[0];
        var rows = Array.prototype.map.call(body.rows, function (r, i) { return [key(r.cells[col], type), i, r]; });
        rows.sort(function (a, b) {
          if (a[0] === null || b[0] === null) { return a[0] === b[0] ? a[1] - b[1] : a[0] === null ? 1 : -1; }
          if (a[0] < b[0]) { return -sign; }
          if (a[0] > b[0]) { return sign; }
          return a[1] - b[1];
        });
        rows.forEach(function (r) { body.appendChild(r[2]); });
      });
    });
  });
})();"""

STYLE = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0; color: #1d1d1f; background: #fafafa; }
header { background: #203a5c; color: #fff; padding: .6rem 1.2rem; }
header a { color: #fff; margin-right: 1rem; text-decoration: none; }
header .title { font-weight: 600; margin-right: 2rem; }
main { padding: 1rem 1.2rem 3rem; max-width: 1200px; }
h1 { font-size: 1.5rem; margin: .4rem 0 .8rem; } h2 { font-size: 1.2rem; margin-top: 1.8rem; } h3 { font-size: 1.05rem; }
table { border-collapse: collapse; margin: .6rem 0; background: #fff; font-size: .9rem; }
th, td { border-bottom: 1px solid #ddd; padding: .3rem .55rem; text-align: left; vertical-align: top; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
th button { font: inherit; font-weight: 600; background: none; border: 0; padding: 0; cursor: pointer; color: inherit; }
th[aria-sort="ascending"] button::after { content: " \\25B2"; } th[aria-sort="descending"] button::after { content: " \\25BC"; }
tr.reference td { background: #fdf3e7; font-style: italic; }
tr.unranked td { color: #777; }
.note { background: #eef3fa; border-left: 4px solid #3465a4; padding: .5rem .8rem; margin: .8rem 0; }
.warn { background: #fff4e5; border-left: 4px solid #e69500; padding: .5rem .8rem; margin: .8rem 0; }
.bad { color: #b00020; font-weight: 600; } .good { color: #1b7f3b; } .muted { color: #777; }
.status-under-review { color: #b05a00; font-weight: 600; }
pre, .memo-text { white-space: pre-wrap; word-break: break-word; background: #f3f3f3; padding: .3rem .5rem; margin: .2rem 0; font-size: .85rem; }
.criterion { background: #fff; border: 1px solid #ddd; padding: .6rem .9rem; margin: .8rem 0; }
img.plot { max-width: 100%; border: 1px solid #eee; background: #fff; }
footer { color: #777; font-size: .8rem; padding: 1rem 1.2rem; }
"""


def csp_hash(script: str) -> str:
    """The Content-Security-Policy hash that lets a browser run exactly this inline script and no other."""
    return "sha256-" + base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")


@lru_cache(maxsize=1)
def environment() -> Environment:
    """One Jinja2 environment per process (templates compile once), autoescaping every template."""
    env = Environment(
        loader=FileSystemLoader(data_path("templates")),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(sort_js=Markup(SORT_JS), style=Markup(STYLE), script_hash=csp_hash(SORT_JS))
    env.filters.update(
        f4=lambda v, d=4: "—" if v is None else f"{v:.{d}f}",
        ms=lambda v: "—" if v is None else (f"{v:.2f}" if v < 100 else f"{v:.0f}"),
        count=lambda v: "—" if v is None else f"{int(v):,}",
        signed=lambda v: "—" if v is None else ("in band" if v == 0 else f"{v:+.4f}"),
        dv=lambda v: "" if v is None else repr(float(v)),
    )
    return env
