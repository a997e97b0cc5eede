"""A static page of predictions: the photographs and their attention in a grid of cards, sortable by
p(positive) and filterable by label.

One self-contained file (inline CSS and script, images as data URIs): it opens from disk, with no
server and nothing fetched from the network, and can be mailed or archived as it is. The initial
order and filter can be set in the address, ``gallery.html#sort=p-asc&label=negative``.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from visent.atomic import atomic_write
from visent.data.table import CLASS_NAMES

#: The orders a reader can choose: value -> what the menu says.
SORTS = {"p-desc": "p(positive), highest first", "p-asc": "p(positive), lowest first", "name": "file name"}


@dataclass(frozen=True)
class Card:
    """One photograph on the page: the path shown, the prediction, and its images (JPEG or PNG bytes)."""

    name: str
    label: str
    p_positive: float
    attribute: str | None
    photo: bytes
    overlay: bytes | None = None  # None for a head without attention


def data_uri(data: bytes) -> str:
    """``data`` (JPEG or PNG bytes) as a ``data:`` URI, typed by its magic number."""
    mime = "image/png" if data.startswith(b"\x89PNG") else "image/jpeg"
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


_STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5rem; color: #222; background: #fafafa; }
h1 { font-size: 1.3rem; margin: 0 0 .3rem; }
.about { color: #555; margin: 0 0 1rem; }
.controls { display: flex; gap: 1rem; align-items: center; margin-bottom: 1rem; flex-wrap: wrap; }
#grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(250px, 1fr)); gap: 1rem; }
.card { background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: .5rem; }
.card[hidden] { display: none; }
.pics { display: flex; gap: .3rem; }
.pics img { width: 50%; aspect-ratio: 1; object-fit: cover; border-radius: 3px; }
.card p { margin: .3rem 0 0; font-size: .9rem; overflow-wrap: anywhere; }
.label { font-weight: 600; }
.positive { color: #1b9e77; }
.negative { color: #d95f02; }
.path { color: #666; font-size: .8rem; }
"""

_SCRIPT = """
(function () {
  var grid = document.getElementById("grid");
  var sort = document.getElementById("sort");
  var filter = document.getElementById("filter");
  var cards = Array.prototype.slice.call(grid.children);
  var orders = {
    "p-desc": function (a, b) { return b.dataset.p - a.dataset.p; },
    "p-asc": function (a, b) { return a.dataset.p - b.dataset.p; },
    "name": function (a, b) { return a.dataset.name.localeCompare(b.dataset.name); }
  };
  var asked = new URLSearchParams(location.hash.slice(1));
  if (orders[asked.get("sort")]) { sort.value = asked.get("sort"); }
  if (asked.get("label")) { filter.value = asked.get("label"); }
  function show() {
    var shown = 0;
    cards.sort(orders[sort.value]).forEach(function (card) {
      card.hidden = filter.value !== "all" && card.dataset.label !== filter.value;
      shown += card.hidden ? 0 : 1;
      grid.appendChild(card);
    });
    document.getElementById("count").textContent = shown + " of " + cards.length + " photographs";
  }
  sort.addEventListener("change", show);
  filter.addEventListener("change", show);
  show();
})();
"""


def _card(card: Card) -> str:
    name = html.escape(card.name)
    pictures = f'<img alt="{name}" src="{data_uri(card.photo)}">'
    if card.overlay is not None:
        pictures += f'<img alt="attention over {name}" src="{data_uri(card.overlay)}">'
    steered = f" · attends to <em>{html.escape(card.attribute)}</em>" if card.attribute else ""
    return (
        f'<article class="card" data-label="{html.escape(card.label)}" data-p="{card.p_positive:.5f}"'
        f' data-name="{name}"><div class="pics">{pictures}</div>'
        f'<p><span class="label {html.escape(card.label)}">{html.escape(card.label)}</span>'
        f" p(positive) {card.p_positive:.3f}{steered}</p>"
        f'<p class="path">{name}</p></article>'
    )


def gallery_html(cards: Sequence[Card], title: str, about: str) -> str:
    """The page: ``title``, a line ``about`` the model, the controls and one card per photograph."""
    sorts = "".join(f'<option value="{value}">{html.escape(text)}</option>' for value, text in SORTS.items())
    labels = "".join(f'<option value="{name}">{name}</option>' for _, name in sorted(CLASS_NAMES.items()))
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>"
        f'<h1>{html.escape(title)}</h1><p class="about">{html.escape(about)}</p>'
        '<div class="controls"><label>order <select id="sort">'
        f"{sorts}</select></label>"
        f'<label>label <select id="filter"><option value="all">all</option>{labels}</select></label>'
        '<span id="count"></span></div>'
        f'<main id="grid">{"".join(_card(card) for card in cards)}</main>'
        f"<script>{_SCRIPT}</script></body></html>\n"
    )


def write_gallery(path: str | Path, cards: Sequence[Card], title: str, about: str) -> Path:
    """``gallery_html`` written to ``path`` atomically (its folder created)."""
    page = gallery_html(cards, title, about)
    return atomic_write(Path(path), lambda fh: fh.write(page.encode()))


__all__ = ["SORTS", "Card", "data_uri", "gallery_html", "write_gallery"]
