"""The catalog as ONE static HTML page: it opens from ``file://`` with no server
and loads nothing (its Content-Security-Policy forbids any request: the
thumbnails are PNG ``data:`` URLs, the style and script are inline).

Every dataset is a table row rendered here, so the page reads without
JavaScript too; the script only hides and reorders rows: text search (every
word must appear in the name, URL, description, kind, organism or modality),
filters by organism and by modality, sorting by size (bytes on disk, or bytes
written where the size is unknown). The controls are kept in the URL's hash,
``#q=TEXT&organism=ID&modality=ID&sort=size-desc|size-asc|name``, so a link
(or a test) can open the page filtered and sorted.
"""

from __future__ import annotations

import base64
import html
import re
from typing import TYPE_CHECKING

from ..ome.ontology_terms import FBBI, NCBITAXON, TERMS
from .costs import human_bytes, summary_lines

if TYPE_CHECKING:
    from . import Catalog
    from .read import Row

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'"

STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; background: #fafafa; }
h1 { font-size: 1.4em; margin: 0 0 .3em; }
pre.summary { background: #fff; border: 1px solid #ddd; padding: .6em; overflow-x: auto; font-size: 12px; }
.controls { display: flex; flex-wrap: wrap; gap: .6em; align-items: center; margin: 1em 0; position: sticky; top: 0;
  background: #fafafa; padding: .4em 0; }
.controls input { min-width: 22em; padding: .3em; }
#count { color: #555; }
table { border-collapse: collapse; width: 100%; background: #fff; }
th, td { border-bottom: 1px solid #e4e4e4; padding: .4em .6em; text-align: left; vertical-align: top; }
th { background: #f0f0f0; position: sticky; top: 2.6em; }
td.thumb { width: 132px; text-align: center; vertical-align: middle; background: #111; color: #ddd; font-size: 12px; }
td.thumb img { image-rendering: pixelated; display: block; margin: auto; width: 128px; height: 128px; object-fit: contain; }
.name { font-weight: 600; }
.url, .small { font-size: 12px; color: #555; }
.url { word-break: break-all; }
td.layout { white-space: nowrap; }
.error { color: #b00020; font-weight: 600; word-break: break-word; }
tr.failed td.thumb { background: #fdecee; color: #b00020; }
.num { font-variant-numeric: tabular-nums; white-space: nowrap; }
"""

SCRIPT = """
(function () {
  var rows = Array.prototype.slice.call(document.querySelectorAll("tr.dataset"));
  var body = document.querySelector("#datasets tbody");
  var q = document.getElementById("search"), org = document.getElementById("organism");
  var mod = document.getElementById("modality"), sort = document.getElementById("sort");
  var count = document.getElementById("count"), empty = document.getElementById("empty");
  function readHash() {
    var p = new URLSearchParams(location.hash.replace(/^#/, ""));
    q.value = p.get("q") || "";
    org.value = p.get("organism") || "";
    mod.value = p.get("modality") || "";
    sort.value = p.get("sort") || "";
  }
  function writeHash() {
    var p = new URLSearchParams();
    if (q.value) p.set("q", q.value);
    if (org.value) p.set("organism", org.value);
    if (mod.value) p.set("modality", mod.value);
    if (sort.value) p.set("sort", sort.value);
    var h = p.toString();
    history.replaceState(null, "", h ? "#" + h : location.pathname + location.search);
  }
  function size(r) { return Number(r.getAttribute("data-bytes")); }
  function apply() {
    var words = q.value.toLowerCase().split(/\\s+/).filter(Boolean), shown = 0;
    rows.forEach(function (r) {
      var text = r.getAttribute("data-search");
      var ok = words.every(function (w) { return text.indexOf(w) >= 0; })
        && (!org.value || r.getAttribute("data-organism") === org.value)
        && (!mod.value || r.getAttribute("data-modality") === mod.value);
      r.hidden = !ok;
      if (ok) shown++;
    });
    var order = rows.slice(), by = sort.value;
    order.sort(function (a, b) {
      var ia = Number(a.getAttribute("data-index")), ib = Number(b.getAttribute("data-index"));
      if (by === "size-desc" || by === "size-asc") {
        var sa = size(a), sb = size(b);
        if ((sa < 0) !== (sb < 0)) return sa < 0 ? 1 : -1;  /* unknown sizes last */
        if (sa !== sb) return by === "size-desc" ? sb - sa : sa - sb;
      } else if (by === "name") {
        var c = a.getAttribute("data-name").localeCompare(b.getAttribute("data-name"));
        if (c) return c;
      }
      return ia - ib;
    });
    order.forEach(function (r) { body.appendChild(r); });
    count.textContent = shown + " of " + rows.length + " datasets";
    empty.hidden = shown > 0;
  }
  readHash();
  apply();
  [q, org, mod, sort].forEach(function (el) {
    el.addEventListener("input", function () { writeHash(); apply(); });
  });
  window.addEventListener("hashchange", function () { readHash(); apply(); });
})();
"""


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


_TERM = re.compile(r"(?:ncbi:txid|ncbitaxon[:_])(\d+)$|fbbi[:_](\d+)$", re.IGNORECASE)
_LABELS = {(t.ontology, t.number): t.label for t in TERMS}


def term_label(term: str | None) -> str | None:
    """The name of an organism or modality term (any usual form of the id)
    when the shipped table of common terms has it."""
    match = _TERM.search(term.strip()) if term else None
    if match is None:
        return None
    return _LABELS.get((NCBITAXON, match.group(1)) if match.group(1) else (FBBI, match.group(2)))


def _term_text(term: str | None) -> str:
    if not term:
        return "-"
    label = term_label(term)
    return f"{label} ({term})" if label else term


def _shape(values: object) -> str:
    return "-" if not values else " x ".join(str(v) for v in values)


def _row_html(index: int, row: Row, values: dict) -> str:
    name = values["name"] or row.url.rstrip("/").rsplit("/", 1)[-1]
    size = row.bytes_on_disk if row.bytes_on_disk is not None else (row.cost.bytes_written if row.cost else -1)
    search = " ".join(str(v) for v in (name, row.url, values["description"], row.kind, row.organism,
                                       term_label(row.organism), row.modality, term_label(row.modality),
                                       values["error"]) if v).lower()
    attrs = (f'class="dataset{"" if row.ok else " failed"}" data-index="{index}" data-name="{_e(name.lower())}" '
             f'data-bytes="{size}" data-organism="{_e(row.organism or "")}" data-modality="{_e(row.modality or "")}" '
             f'data-search="{_e(search)}"')
    if row.thumbnail is not None:
        src = "data:image/png;base64," + base64.b64encode(row.thumbnail.png).decode("ascii")
        thumb = (f'<td class="thumb"><img src="{src}" width="{row.thumbnail.width}" height="{row.thumbnail.height}" '
                 f'alt="thumbnail of {_e(name)}"></td>')
    elif not row.ok:
        thumb = '<td class="thumb">cannot be read</td>'
    else:
        thumb = f'<td class="thumb no-thumbnail" title="{_e(row.thumbnail_note)}">no thumbnail</td>'
    url = (f'<a class="url" href="{_e(row.url)}">{_e(row.url)}</a>' if row.url.startswith(("http://", "https://"))
           else f'<div class="url">{_e(row.url)}</div>')
    what = [f'<div class="name">{_e(name)}</div>', url]
    if values["description"]:
        what.append(f'<div>{_e(values["description"])}</div>')
    if values["error"]:
        what.append(f'<div class="error">{_e(values["error"])}</div>')
    if values["notes"]:
        what.append(f'<div class="small notes">{_e(values["notes"])}</div>')
    counts = [row.kind or "-"]
    counts += [f"{values[k]} {k[:-1] if values[k] == 1 else k}" for k in ("wells", "images", "series")
               if values[k] is not None and not (k == "images" and row.kind == "image")]
    layout = [f"shape {_shape(row.shape)}", f"chunks {_shape(row.chunks)}",
              f"shards {_shape(row.shards) if row.shards else 'none'}", f"{row.dtype or '-'}, {row.codec or '-'}"]
    about = [f"organism: {_e(_term_text(row.organism))}", f"modality: {_e(_term_text(row.modality))}",
             f"license: {_e(row.license or '-')}"]
    if not row.ok:
        counts, layout, about = [], [], []
    c = row.cost
    sizes = [f"on disk {human_bytes(row.bytes_on_disk)}" if row.bytes_on_disk is not None else "on disk unknown",
             f"written {human_bytes(c.bytes_written)}" if c else "no statistics"] if row.ok else []
    conversion = []
    if c is not None:
        conversion = [f"read {human_bytes(c.bytes_read)}", f"ratio {values['compression_ratio'] or '-'}"]
        if values["elapsed"] is not None:
            conversion.append(f"{values['elapsed']} s, {values['threads'] or '?'} threads")
        if values["core_seconds"] is not None:
            conversion.append(f"{values['core_seconds']} core-s ({'recorded' if c.source == 'recorded' else 'estimated'})")
        if values["mb_per_s_per_core"] is not None:
            conversion.append(f"{values['mb_per_s_per_core']} MB/s per core")
        conversion.append(values["tool"] or "")
    cells = [
        thumb,
        f'<td class="what">{"".join(what)}</td>',
        f'<td class="kind">{_e(", ".join(counts))}</td>',
        f'<td class="layout small">{"<br>".join(_e(x) for x in layout)}</td>',
        f'<td class="about small">{"<br>".join(about)}</td>',
        f'<td class="size num">{"<br>".join(_e(x) for x in sizes)}</td>',
        f'<td class="cost small">{"<br>".join(_e(x) for x in conversion if x)}</td>',
    ]
    return f"<tr {attrs}>{''.join(cells)}</tr>"


def _options(element_id: str, everything: str, terms: list[str]) -> str:
    options = [f'<option value="">{_e(everything)}</option>']
    options += [f'<option value="{_e(t)}">{_e(_term_text(t))}</option>' for t in terms]
    return f'<select id="{element_id}" aria-label="{_e(everything)}">{"".join(options)}</select>'


def html_page(catalog: Catalog, *, title: str = "OME-Zarr datasets") -> str:
    rows = catalog.rows
    records = catalog.records()
    organisms = sorted({r.organism for r in rows if r.organism})
    modalities = sorted({r.modality for r in rows if r.modality})
    body = "\n".join(_row_html(i, r, v) for i, (r, v) in enumerate(zip(rows, records)))
    controls = (
        '<div class="controls">'
        '<input id="search" type="search" placeholder="Search name, URL, description, organism ..." '
        'aria-label="search">'
        f'{_options("organism", "all organisms", organisms)}'
        f'{_options("modality", "all modalities", modalities)}'
        '<select id="sort" aria-label="sort"><option value="">catalog order</option>'
        '<option value="size-desc">largest first</option><option value="size-asc">smallest first</option>'
        '<option value="name">by name</option></select>'
        f'<span id="count">{len(rows)} of {len(rows)} datasets</span></div>'
    )
    head = ("<tr><th>thumbnail</th><th>dataset</th><th>kind</th><th>layout</th><th>about</th><th>size</th>"
            "<th>conversion</th></tr>")
    summary = "\n".join(summary_lines(catalog.summary))
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(title)}</title>
<style>{STYLE}</style>
</head>
<body>
<h1>{_e(title)}</h1>
<details open><summary>Conversion costs</summary><pre class="summary">{_e(summary)}</pre></details>
{controls}
<table id="datasets">
<thead>{head}</thead>
<tbody>
{body}
</tbody>
</table>
<p id="empty" hidden>No dataset matches.</p>
<script>{SCRIPT}</script>
</body>
</html>
"""
