"""Specification of the book: it builds warning-free and offline, and its pages render as a reader sees them.

The book is built once per module into a temporary copy of its sources (``_config.yml``,
``_toc.yml``, the folders the table of contents names, ``visent/`` for the literalincludes, and the MathJax copy that
``make mathjax`` puts in ``_build/mathjax``), with snippets generated from the repository's
``results/``. Headless Chromium then renders pages, which is the only way to see MathJax's output.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat
import numpy as np
import pytest
import yaml
from PIL import Image

from visent.reporting.published import PUBLISHED
from visent.reporting.report import write_includes

REPO = Path(__file__).resolve().parents[1]
ONTOLOGY = Path(__file__).resolve().parents[2] / "shared" / "data" / "vso" / "3244ANPs.txt"
MATHJAX = REPO / "_build" / "mathjax" / "mathjax" / "tex-chtml.js"
CHROMIUM = Path("/usr/bin/chromium")
HANG_S = 600  # the build takes seconds; this only stops a hung build from holding CI
TITLE = yaml.safe_load((REPO / "_config.yml").read_text())["title"]
NOTEBOOKS = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
#: The longest code line a notebook may have: at the font size of book/_static/visent.css,
#: 88 characters fit the article column of a 1280 px window, so no code cell scrolls sideways.
CODE_COLUMNS = 88
#: The widest line of a chapter's diagram (a code block without a language): at the font size of
#: book/_static/visent.css, 80 characters fit the article column of a 1280 px window.
DIAGRAM_COLUMNS = 80


#: Words that speak to the project, not to a reader: a book never mentions its issues, targets,
#: moonshots or design sketches.
INTERNAL_WORDS = re.compile(r"moonshot|as the issue|design sketch|target.*met|\bissues?\b", re.IGNORECASE)


@dataclass(frozen=True)
class Book:
    html: Path  # the built _build/html
    returncode: int
    log: str


def _toc_files() -> list[str]:
    """Every document the table of contents names, the root first, without suffix."""
    files: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            files.extend(node[key] for key in ("root", "file") if key in node)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(yaml.safe_load((REPO / "_toc.yml").read_text()))
    return files


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory) -> Book:
    if not MATHJAX.is_file():
        pytest.fail(f"MathJax is not installed at {MATHJAX}: run `make mathjax` (npm install of mathjax@3)")
    source = tmp_path_factory.mktemp("book")
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy(REPO / name, source / name)
    # The chapters' literalincludes show the package's own files.
    for top in sorted({Path(f).parts[0] for f in _toc_files()} | {"visent"}):
        shutil.copytree(
            REPO / top, source / top, ignore=shutil.ignore_patterns("_generated", ".ipynb_checkpoints", "__pycache__")
        )
    shutil.copytree(MATHJAX.parents[1], source / "_build" / "mathjax")
    write_includes(REPO / "results", source / "book" / "_generated", ONTOLOGY, published=REPO / PUBLISHED)
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    proc = subprocess.run(
        [str(jupyter_book), "build", str(source), "-W", "-n", "--keep-going"],
        capture_output=True,
        text=True,
        timeout=HANG_S,
    )
    return Book(source / "_build" / "html", proc.returncode, proc.stdout + proc.stderr)


def _pages(book: Book) -> list[Path]:
    return sorted(book.html.glob("*.html")) + sorted(book.html.glob("book/*.html"))


def test_book_builds_without_warnings(book):
    assert book.returncode == 0, book.log[-3000:]


def test_every_document_of_the_toc_has_a_page(book):
    missing = [f for f in _toc_files() if not (book.html / f"{f}.html").is_file()]

    assert not missing


def test_mathjax_is_served_from_the_build_and_no_script_comes_from_the_network(book):
    paper = book.html / "book" / "paper.html"
    sources = re.findall(r'<script[^>]*src="([^"]*tex-chtml\.js[^"]*)"', paper.read_text())

    assert len(sources) == 1 and "://" not in sources[0], sources
    served = (paper.parent / sources[0].split("?")[0]).resolve()
    assert served == (book.html / "mathjax" / "tex-chtml.js").resolve() and served.is_file()
    assert len(list((served.parent / "output" / "chtml" / "fonts" / "woff-v2").glob("*.woff"))) > 20
    for page in _pages(book):
        assert not re.search(r'<script[^>]*src="https?://', page.read_text()), page.name


def test_paper_labels_equations_one_to_six(book):
    html = (book.html / "book" / "paper.html").read_text()

    for k in range(1, 7):
        assert f'id="equation-eq{k}"' in html
        assert f'class="eqno">({k})' in html


def test_no_page_shows_an_unresolved_reference(book):
    unresolved = [page.name for page in _pages(book) if "??" in page.read_text()]

    assert not unresolved


def test_intro_and_report_show_their_tables(book):
    intro = (book.html / "book" / "intro.html").read_text()
    report = (book.html / "book" / "report.html").read_text()

    assert "attention-predicted" in intro and "<table" in intro
    assert "paper, VSO (%)" in report  # Table 1 beside ours
    assert "What the paper credits to attention" in report  # the controls
    assert report.count("<table") >= 2


@pytest.fixture(scope="module")
def chromium() -> Path:
    if not CHROMIUM.is_file():
        pytest.skip(f"headless Chromium not found at {CHROMIUM}: `make chromium` installs it (apt-get)")
    return CHROMIUM


def _chromium(binary: Path, profile: Path, *args: str) -> subprocess.CompletedProcess:
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        # MathJax typesets after page load; virtual time lets it finish before the capture.
        "--virtual-time-budget=10000",
    ]
    return subprocess.run([str(binary), *flags, *args], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("page", ["index.html", "book/report.html"])
def test_chromium_renders_the_title_a_table_and_typeset_math(book, chromium, tmp_path, page):
    url = (book.html / page).as_uri()
    png = tmp_path / "page.png"

    _chromium(chromium, tmp_path / "profile", f"--screenshot={png}", "--window-size=1280,2000", url)
    dom = _chromium(chromium, tmp_path / "profile", "--dump-dom", url).stdout

    assert png.is_file(), f"no screenshot of {page}"
    pixels = np.asarray(Image.open(png).convert("L"), dtype=np.float64)
    assert pixels.shape == (2000, 1280)
    assert pixels.std() > 10, f"the screenshot of {page} is blank"
    title = re.search(r"<title>(.*?)</title>", dom)
    assert title and TITLE in title.group(1), f"{page} rendered without the book's title"
    assert "<table" in dom
    assert "<mjx-container" in dom, f"MathJax did not typeset {page}"


def _rendered_text(path: Path) -> str:
    """What a reader of a stored notebook sees as text: its markdown cells and every text output."""
    parts = []
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type == "markdown":
            parts.append(cell.source)
        for output in cell.get("outputs", []):
            text = output.get("text", "")
            parts.append("".join(text) if isinstance(text, list) else text)
            for mime in ("text/plain", "text/markdown", "text/html"):
                value = output.get("data", {}).get(mime, "")
                parts.append("".join(value) if isinstance(value, list) else value)
    return "\n".join(parts)


def test_no_page_speaks_of_issues_targets_moonshots_or_design_sketches(tmp_path):
    generated = tmp_path / "_generated"
    write_includes(REPO / "results", generated, ONTOLOGY if ONTOLOGY.is_file() else None, published=REPO / PUBLISHED)
    texts = {path.relative_to(REPO): path.read_text() for path in [*(REPO / "book").glob("*.md"), REPO / "_toc.yml"]}
    texts |= {path.relative_to(REPO): _rendered_text(path) for path in NOTEBOOKS}
    texts |= {Path("book/_generated") / path.name: path.read_text() for path in generated.glob("*.md")}

    found = [
        f"{name}: {line.strip()[:100]}"
        for name, text in texts.items()
        for line in text.splitlines()
        if INTERNAL_WORDS.search(line)
    ]

    assert len(texts) > 20 and not found, "\n".join(found)


def _diagram_lines(text: str) -> list[str]:
    """The lines of the code blocks without a language (text diagrams, trees) of a chapter."""
    lines, fence = [], None
    for line in text.splitlines():
        if fence is None and line.startswith("```"):
            fence = line[3:].strip()
        elif fence is not None and line.startswith("```"):
            fence = None
        elif fence == "":
            lines.append(line)
    return lines


def test_no_diagram_of_a_chapter_is_wider_than_the_page():
    too_wide = {
        f"{path.name}: {line[:50]}..."
        for path in (REPO / "book").glob("*.md")
        for line in _diagram_lines(path.read_text())
        if len(line) > DIAGRAM_COLUMNS
    }

    assert any(_diagram_lines((REPO / "book" / "architecture.md").read_text()))
    assert not too_wide, "\n".join(sorted(too_wide))


#: A command-line flag: outside code, Sphinx prints its two dashes as an en dash ("–amp").
BARE_FLAG = re.compile(r"(?<![\w`-])--[a-z][\w-]*")


def _prose(text: str) -> str:
    """A chapter's text without its fenced blocks and code spans (a span may run over lines)."""
    text = re.sub(r"^(```|~~~).*?^\1", "", text, flags=re.MULTILINE | re.DOTALL)
    return re.sub(r"`[^`]*`", "", text)


def test_every_flag_of_a_page_is_code_so_that_it_copies(tmp_path):
    generated = tmp_path / "_generated"
    write_includes(REPO / "results", generated, ONTOLOGY if ONTOLOGY.is_file() else None, published=REPO / PUBLISHED)
    pages = [*(REPO / "book").glob("*.md"), *generated.glob("*.md")]

    bare = [
        f"{path.name}: {line.strip()[:100]}"
        for path in pages
        for line in _prose(path.read_text()).splitlines()
        if BARE_FLAG.search(line)
    ]

    assert BARE_FLAG.search("run with --amp bf16") and not BARE_FLAG.search(_prose("run with `--amp bf16`"))
    assert not bare, "\n".join(bare)


def _code_cells(path: Path) -> list:
    return [cell for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "code"]


def test_no_code_line_of_a_notebook_is_wider_than_the_page():
    too_wide = [
        f"{path.name} code cell {i}: {len(line)} characters: {line[:50]}..."
        for path in NOTEBOOKS
        for i, cell in enumerate(_code_cells(path))
        for line in cell.source.splitlines()
        if len(line) > CODE_COLUMNS
    ]

    assert len(NOTEBOOKS) == 6
    assert not too_wide, "\n".join(too_wide)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_a_notebook_opens_with_its_setup_and_parameters_collapsed(path):
    setup_cell, parameters, first_shown, *_ = _code_cells(path)
    sources = [cell.source for cell in _code_cells(path)]

    assert "setup()" in setup_cell.source and setup_cell.metadata.tags == ["hide-input"]
    assert parameters.metadata.tags == ["parameters", "hide-input"]  # papermill finds the tag
    assert "hide-input" not in first_shown.metadata.tags
    assert re.search(r"config = run_config\(\s*globals\(\)", first_shown.source)
    assert not any("RunConfig.from_dict" in source or "os.chdir" in source for source in sources)


# Run by the page after loading: each code block of a notebook cell, whether a reader sees it
# (the input of a collapsed cell is not shown) and where; then every toggle is opened, as by a
# reader who wants the hidden code, and each block's overflow (scroll minus box width) is taken.
LAYOUT_PROBE = """<script>
window.addEventListener("load", () => {
  const pres = [...document.querySelectorAll("div.cell_input pre")];
  const blocks = pres.map(pre => ({
    shown: !pre.closest("details:not([open])") && pre.getClientRects().length > 0,
    top: pre.getBoundingClientRect().top + window.scrollY,
    text: pre.textContent,
  }));
  document.querySelectorAll("details").forEach(details => { details.open = true; });
  pres.forEach((pre, i) => { blocks[i].overflow = pre.scrollWidth - pre.clientWidth; });
  const heading = document.querySelector("article h1").getBoundingClientRect();
  const probe = document.createElement("pre");
  probe.id = "layout-probe";
  probe.textContent = JSON.stringify({blocks, heading_bottom: heading.bottom + window.scrollY});
  document.body.appendChild(probe);
});
</script>"""


def _probed_layout(chromium: Path, profile: Path, page: Path, probe: str, window: str) -> dict:
    """What ``probe`` (a script that writes JSON into ``<pre id="layout-probe">``) measured on ``page``
    as Chromium lays it out; {} when the probe wrote nothing."""
    probed = page.with_name(f"{page.stem}_probed.html")  # beside the page: same relative links
    probed.write_text(page.read_text().replace("</body>", probe + "</body>"))
    dom = _chromium(chromium, profile, window, "--dump-dom", probed.as_uri()).stdout
    found = re.search(r'<pre id="layout-probe"[^>]*>(.*?)</pre>', dom, re.S)
    return json.loads(html.unescape(found.group(1))) if found else {}


def test_the_training_notebook_page_opens_with_its_story_not_its_setup_code(book, chromium, tmp_path):
    page = book.html / "notebooks" / "04_training.html"
    png, window = tmp_path / "page.png", "--window-size=1280,2000"

    _chromium(chromium, tmp_path / "profile", f"--screenshot={png}", window, page.as_uri())
    dom = _chromium(chromium, tmp_path / "profile", window, "--dump-dom", page.as_uri()).stdout
    layout = _probed_layout(chromium, tmp_path / "profile", page, LAYOUT_PROBE, window) or {"blocks": []}
    blocks = layout["blocks"]
    shown = [block for block in blocks if block["shown"]]
    cells = re.findall(r'<div class="cell( [^"]*)"', dom)  # the classes of each notebook cell
    toggles = [t for t in re.findall(r"<details( [^>]*)>", dom) if "above-input" in t]

    pixels = np.asarray(Image.open(png).convert("L"), dtype=np.float64)
    assert pixels.std() > 10, "the screenshot of the training notebook is blank"
    assert len(blocks) == len(cells) >= 6 and shown, f"the code blocks of {page.name} were not found"
    # The setup cell (imports) and the parameters cell come first, each behind a closed toggle.
    assert "tag_hide-input" in cells[0] and "tag_parameters tag_hide-input" in cells[1]
    assert len(toggles) >= 3 and not any(" open" in t for t in toggles), toggles
    assert "Show code cell source" in dom
    assert "from visent.notebook import" in blocks[0]["text"] and not blocks[0]["shown"]
    assert 'variant = "attention-truth"' in blocks[1]["text"] and not blocks[1]["shown"]
    # What a reader sees first, below the title, is the config built from those parameters.
    first = shown[0]
    assert re.search(r"config = run_config\(\s*globals\(\)", first["text"])
    assert "import" not in first["text"] and first["top"] > layout["heading_bottom"]
    # No code block, opened or not, is wider than its box; no line is longer than the limit.
    assert [(b["text"][:40], b["overflow"]) for b in blocks if b["overflow"] > 0] == []
    assert max(len(line) for b in blocks for line in b["text"].splitlines()) <= CODE_COLUMNS


#: The front page's answer must be seen without scrolling: its findings and their figure end
#: within the first FOLD pixels of a window FOLD pixels wide.
FOLD = 1400
FRONT_PROBE = """<script>
window.addEventListener("load", () => {
  const box = element => {
    if (!element) return null;
    const r = element.getBoundingClientRect();
    return {top: r.top + window.scrollY, bottom: r.bottom + window.scrollY, height: r.height};
  };
  const figure = document.getElementById("fig-findings");
  const probe = document.createElement("pre");
  probe.id = "layout-probe";
  probe.textContent = JSON.stringify({
    findings: box(document.querySelector("#findings ul")),
    figure: box(figure && figure.querySelector("img")),
  });
  document.body.appendChild(probe);
});
</script>"""


def test_the_front_page_shows_its_findings_and_their_figure_above_the_fold(book, chromium, tmp_path):
    page = book.html / "book" / "intro.html"
    window, png = f"--window-size={FOLD},{FOLD}", tmp_path / "front.png"

    _chromium(chromium, tmp_path / "profile", f"--screenshot={png}", window, page.as_uri())
    layout = _probed_layout(chromium, tmp_path / "profile", page, FRONT_PROBE, window)

    findings, figure = layout.get("findings"), layout.get("figure")
    assert findings and figure, f"the findings or their figure are missing from the front page: {layout}"
    assert figure["height"] > 150, "the findings figure did not load"
    assert findings["top"] < figure["top"] and figure["bottom"] <= FOLD, layout
    pixels = np.asarray(Image.open(png).convert("L"), dtype=np.float64)
    shown = pixels[int(figure["top"]) : int(figure["bottom"])]
    assert shown.std() > 10, "the screenshot shows no figure where the page puts it"
