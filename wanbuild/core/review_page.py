"""The review page: checkpoints side by side, to choose what to deploy by looking. Pure: the
grid in, one static HTML document out (no server, no network, no CDN; the media it names lie
beside it).

Columns are checkpoints, oldest first, after an optional first column of what the live
deployment renders today (`review --golden`). Rows are validation samples, each with its
compiled prompt and first frame. The live and pinned checkpoints are marked. A row plays,
pauses and scrubs as one; the arrow keys move between cells, space plays or pauses the row,
Home/End jump to its ends. Once every video can show a frame, the page says so on
<body data-loaded>, with the resources it loaded on data-resources: a test reads both.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    key: str  # "checkpoint-400", or "live" (the golden renders)
    title: str
    detail: str  # "epoch 400 · step 800"
    marks: tuple[str, ...] = ()  # "live", "pinned", "final"


@dataclass(frozen=True)
class Row:
    title: str  # "validation sample 1"
    prompt: str
    first_frame: str | None  # a path relative to the page
    cells: tuple[str | None, ...]  # per column: a media path relative to the page, or None
    missing: tuple[str, ...] = ()  # per column, why a cell is empty ("expired before kept")


@dataclass(frozen=True)
class Grid:
    effect: str
    job: str
    kind: str  # i2v, kf2v, t2i, i2i
    columns: tuple[Column, ...]
    rows: tuple[Row, ...]
    note: str = ""


def render_html(grid: Grid) -> str:
    video = grid.kind in ("i2v", "kf2v")
    e = html.escape
    head = "".join(
        f'<th scope="col" data-col="{e(c.key)}" class="{" ".join(c.marks)}">'
        f"<div class=name>{e(c.title)}</div><div class=detail>{e(c.detail)}</div>"
        + "".join(f'<span class="mark {m}">{e(m)}</span>' for m in c.marks)
        + "</th>"
        for c in grid.columns
    )
    body = []
    for r, row in enumerate(grid.rows):
        first = (
            f'<img class=first src="{e(row.first_frame)}" alt="first frame">'
            if row.first_frame
            else ""
        )
        controls = (
            f'<div class=controls><button class=play data-row="{r}" aria-label="play row">'
            f'play</button><input class=scrub type=range min=0 max=1000 value=0 data-row="{r}" '
            f'aria-label="scrub row"></div>'
            if video
            else ""
        )
        cells = []
        for c, media in enumerate(row.cells):
            col = grid.columns[c]
            if media is None:
                why = row.missing[c] if c < len(row.missing) and row.missing[c] else "none"
                cells.append(f'<td tabindex=0 class=empty data-col="{e(col.key)}">{e(why)}</td>')
            elif video:
                cells.append(
                    f'<td tabindex=0 data-col="{e(col.key)}"><video src="{e(media)}" muted loop '
                    "playsinline preload=auto></video></td>"
                )
            else:
                cells.append(
                    f'<td tabindex=0 data-col="{e(col.key)}"><img class=preview '
                    f'src="{e(media)}" alt="{e(col.title)}"></td>'
                )
        body.append(
            f'<tr data-row="{r}"><th scope="row"><div class=name>{e(row.title)}</div>{first}'
            f"<p class=prompt>{e(row.prompt)}</p>{controls}</th>{''.join(cells)}</tr>"
        )
    title = f"{grid.effect}: {len(grid.columns)} columns x {len(grid.rows)} samples"
    return (
        "<!doctype html>\n<html lang=en><head><meta charset=utf-8>"
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "img-src 'self' file:; media-src 'self' file:; style-src 'unsafe-inline'; "
        "script-src 'unsafe-inline'\">"
        f"<title>{e(title)}</title><style>{_CSS}</style></head>"
        f'<body data-loaded="" data-cells="{_count(grid)}">'
        f"<header><h1>{e(grid.effect)}</h1><p>job {e(grid.job)}: {len(grid.columns)} "
        f"column(s) x {len(grid.rows)} validation sample(s). {e(grid.note)}</p>"
        "<p class=keys>Arrow keys: move between cells. Space: play or pause the row. "
        "Home/End: first/last column.</p></header>"
        f'<table id=grid><thead><tr><th scope="col">sample</th>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
        f"<script>const KIND = {json.dumps(grid.kind)};{_JS}</script></body></html>\n"
    )


def _count(grid: Grid) -> int:
    return sum(1 for row in grid.rows for m in row.cells if m is not None)


_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:16px;background:#fafafa;color:#222}
table{border-collapse:collapse}th,td{border:1px solid #ccc;padding:6px;vertical-align:top}
thead th{background:#eee;position:sticky;top:0}th .detail{font-weight:normal;color:#555}
tbody th{width:240px;text-align:left;font-weight:normal}
.prompt{font-size:12px;color:#333;max-height:96px;overflow:auto}
img.first{max-width:220px;display:block}video,img.preview{width:220px;display:block}
td:focus{outline:3px solid #1a73e8}.mark{display:inline-block;margin:2px;padding:0 6px;
border-radius:8px;font-size:12px;color:#fff}.mark.live{background:#188038}
.mark.pinned{background:#1a73e8}.mark.final{background:#777}th.live{border-top:4px solid #188038}
th.pinned{border-bottom:4px solid #1a73e8}td.empty{color:#a00;font-size:12px;width:220px}
.controls{display:flex;gap:6px;align-items:center}.controls input{flex:1}
"""

_JS = """
const videos = [...document.querySelectorAll('video')];
const images = [...document.querySelectorAll('img')];
let ready = 0;
function settle() {
  const images_done = images.every(i => i.complete && i.naturalWidth > 0);
  const loaded = videos.filter(v => v.readyState >= 2).length;
  if (loaded === videos.length && images_done) {
    document.body.dataset.loaded = String(loaded + images.length);
    document.body.dataset.resources = JSON.stringify(
      performance.getEntriesByType('resource').map(r => r.name));
  }
}
videos.forEach(v => { v.addEventListener('loadeddata', settle); if (v.readyState >= 2) settle(); });
images.forEach(i => i.addEventListener('load', settle));
window.addEventListener('load', settle);
function row(r) { return [...document.querySelectorAll(`tr[data-row="${r}"] video`)]; }
function toggle(r) {
  const vs = row(r); const playing = vs.some(v => !v.paused);
  vs.forEach(v => {
    if (playing) v.pause(); else { v.currentTime = vs[0].currentTime; v.play(); }
  });
}
document.querySelectorAll('button.play').forEach(
  b => b.addEventListener('click', () => toggle(b.dataset.row)));
document.querySelectorAll('input.scrub').forEach(s => s.addEventListener('input', () => {
  row(s.dataset.row).forEach(v => {
    v.pause(); if (v.duration) v.currentTime = v.duration * s.value / 1000;
  });
}));
document.addEventListener('keydown', ev => {
  const cell = document.activeElement;
  if (!cell || cell.tagName !== 'TD') return;
  const tr = cell.parentElement; const cells = [...tr.querySelectorAll('td')];
  const i = cells.indexOf(cell); const rows = [...document.querySelectorAll('tbody tr')];
  const r = rows.indexOf(tr); let next = null;
  if (ev.key === 'ArrowRight') next = cells[i + 1];
  else if (ev.key === 'ArrowLeft') next = cells[i - 1];
  else if (ev.key === 'ArrowDown' && rows[r + 1]) next = rows[r + 1].querySelectorAll('td')[i];
  else if (ev.key === 'ArrowUp' && rows[r - 1]) next = rows[r - 1].querySelectorAll('td')[i];
  else if (ev.key === 'Home') next = cells[0];
  else if (ev.key === 'End') next = cells[cells.length - 1];
  else if (ev.key === ' ') { toggle(tr.dataset.row); ev.preventDefault(); return; }
  if (next) { next.focus(); ev.preventDefault(); }
});
const firstCell = document.querySelector('td');
if (firstCell) firstCell.focus({preventScroll: true});
"""
