"""The course's website (``make book``) in headless Chromium: every page loads with no console
error and no request leaving 127.0.0.1, formulas are typeset by the site's own MathJax 3,
images load and carry alt text that is not a file name, no code cell or output scrolls
sideways at 1280 px, every page links to the course's repository, and every lesson has
working Colab links and download links under distinct names (each notebook's links hold
outside the repository; a student copy has no solution) and names the copy JupyterLab opens
at home. A link to the repository on GitHub or to a lesson on Colab names a file that
exists. The student edition
(``CAMLIB_BOOK_EDITION=student``) holds no solution, no answers page and no teacher's
guide. One screenshot per lesson goes to ``build/book-screenshots/`` (an artefact, not in git).

Run by ``make book`` after the build (``CAMLIB_BROWSER_TESTS=1``); skipped otherwise.
"""

from __future__ import annotations

import os
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from browser_support import browser, serve_folder  # noqa: F401 (fixture)

from camcourse.course import COLAB, colab_url, load_setting, setup_cell_source

ROOT = Path(__file__).resolve().parent.parent
HTML = Path(os.environ.get("CAMLIB_BOOK_HTML", ROOT / "build" / "book" / "html"))
SHOTS = ROOT / "build" / "book-screenshots"
LESSONS = sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
EDITION = os.environ.get("CAMLIB_BOOK_EDITION", "full")
SETTING = load_setting()
# Elements that scroll sideways: wider content than box, and not clipped on purpose.
SCROLLING = """() => Array.from(document.querySelectorAll(
    '.cell_input pre, .cell_output pre, .cell_output, .output, div.highlight, .cell_output p'))
  .filter(e => e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).overflowX !== 'hidden')
  .map(e => e.className + ': ' + (e.innerText || '').slice(0, 80))"""

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.environ.get("CAMLIB_BROWSER_TESTS"),
                       reason="browser test: run by `make book` (CAMLIB_BROWSER_TESTS=1)"),
]


def _pages() -> list[str]:
    if not HTML.is_dir():
        return []
    return sorted(p.relative_to(HTML).as_posix() for p in HTML.rglob("*.html"))


@pytest.fixture(scope="module")
def site():
    if not (HTML / "index.html").exists():
        pytest.fail(f"no website in {HTML}: run `make book`")
    with serve_folder(HTML) as base:
        yield base


def test_the_site_has_the_home_page_every_lesson_and_the_guides():
    pages = _pages()
    assert "index.html" in pages and "get-started.html" in pages
    for lesson in LESSONS:
        assert f"lessons/{lesson}.html" in pages
    for doc in (ROOT / "docs").glob("*.md"):
        if EDITION == "student" and doc.name in ("answers.md", "teaching.md"):
            assert f"{doc.stem}.html" not in pages  # teachers' pages
        else:
            assert f"{doc.stem}.html" in pages


def test_the_student_edition_holds_no_solution_and_the_full_one_folds_them():
    texts = {page: (HTML / page).read_text(encoding="utf-8") for page in _pages()}
    with_solutions = [page for page, text in texts.items() if "BEGIN SOLUTION" in text]
    folded = [page for page, text in texts.items() if 'class="dropdown admonition"' in text]
    if EDITION == "student":
        assert with_solutions == [] and folded == []
        downloads = [p.name for p in (HTML / "_downloads").rglob("*.ipynb")]
        assert downloads and all(name.endswith(".student.ipynb") for name in downloads)
    else:
        assert {f"lessons/{lesson}.html" for lesson in LESSONS if lesson != "00_setup"} <= set(
            folded) | {f"lessons/{lesson}.html" for lesson in LESSONS if
                       "BEGIN SOLUTION" not in (ROOT / "notebooks" / f"{lesson}.ipynb").read_text()}
        for page in with_solutions:  # the solution is inside a folded dropdown only
            assert texts[page].count("BEGIN SOLUTION") <= texts[page].count(
                'class="dropdown admonition"'), page


class _Anchors(HTMLParser):
    """Every ``<a href>`` of a page, and every id a link can point at."""

    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs) -> None:
        attrs = dict(attrs)
        if tag == "a" and attrs.get("href") is not None:
            self.hrefs.append(attrs["href"])
        for name in ("id", "name") if tag == "a" else ("id",):
            if attrs.get(name):
                self.ids.add(attrs[name])


def test_every_link_of_every_page_resolves():
    """An internal link names a file of the site (and an id in it); an external one is a
    well-formed http(s) address (a repository file's link once read ``https:/github.com``)."""
    parsed = {}
    for page in _pages():
        anchors = _Anchors()
        anchors.feed((HTML / page).read_text(encoding="utf-8"))
        parsed[(HTML / page).resolve()] = anchors
    dead, malformed, links = [], [], 0
    # The repository's pages on GitHub and the lessons on Colab name files of this checkout.
    in_repository = re.compile(rf"^(?:{re.escape(SETTING.repo_url)}|"
                               rf"{re.escape(COLAB + SETTING.github_path)})/(?:blob|tree)/"
                               rf"{re.escape(SETTING.branch)}/([^#?]+)")
    for path, anchors in parsed.items():
        for href in anchors.hrefs:
            links += 1
            url = urlsplit(href)
            if url.scheme in ("http", "https"):
                if not re.match(r"^https?://[A-Za-z0-9.-]+\.[a-z]{2,}(/|$)", href):
                    malformed.append((path.name, href))
                named = in_repository.match(href)
                if named and not (ROOT / unquote(named.group(1))).exists():
                    dead.append((path.name, href))
                continue
            if url.scheme:
                continue
            target = (path.parent / unquote(url.path)).resolve() if url.path else path
            if target.is_dir():
                target = target / "index.html"
            if not target.is_file() or HTML.resolve() not in target.parents:
                dead.append((path.name, href))
            elif url.fragment and target in parsed and url.fragment not in parsed[target].ids:
                dead.append((path.name, href))
    assert links > 100 and dead == [] and malformed == [], (dead, malformed)


def test_the_hosted_folder_holds_the_site_only():
    """No Sphinx doctrees in the folder a teacher hosts; in the student edition no lesson
    page sends learners to an answers page it does not have."""
    assert not (HTML / ".doctrees").exists()
    if EDITION == "student":
        for lesson in LESSONS:
            text = (HTML / "lessons" / f"{lesson}.html").read_text(encoding="utf-8")
            assert "Answers:" not in text, lesson


@pytest.mark.parametrize("page", _pages() or ["index.html"])
def test_page_loads_offline_with_math_and_images(page, site, browser):  # noqa: F811
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    errors, outside = [], []
    context.route(re.compile(r"^(?!http://127\.0\.0\.1[:/]).*"),
                  lambda route: (outside.append(route.request.url), route.abort()))
    tab = context.new_page()
    tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    tab.on("pageerror", lambda e: errors.append(str(e)))
    tab.on("requestfailed", lambda r: errors.append(f"failed: {r.url}")
           if r.url.startswith("http://127.0.0.1") else None)
    response = tab.goto(f"{site}/{page}", wait_until="load")
    assert response is not None and response.ok, page
    math = tab.locator(".math.notranslate").count()  # Sphinx's; MathJax adds its own .math
    if math:
        tab.wait_for_function("() => !!(window.MathJax && MathJax.startup"
                              " && MathJax.startup.promise)", timeout=60_000)
        tab.evaluate("() => MathJax.startup.promise")
        typeset = tab.evaluate("() => Array.from(document.querySelectorAll('.math.notranslate'))"
                               ".filter(m => m.querySelector('mjx-container')).length")
        assert typeset == math, f"{page}: {typeset} of {math} formulas typeset"
        assert tab.locator("mjx-merror").count() == 0, f"{page}: a TeX error"
    broken = tab.evaluate("() => Array.from(document.images)"
                          ".filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src)")
    assert broken == [], f"{page}: images that did not load: {broken}"
    scrolling = tab.evaluate(SCROLLING)
    assert scrolling == [], f"{page}: scrolls sideways at 1280 px: {scrolling[:5]}"
    hrefs = tab.eval_on_selector_all("a", "els => els.map(e => e.getAttribute('href'))")
    assert SETTING.repo_url in hrefs, f"{page}: no link to the repository"
    assert errors == [], f"{page}: console errors {errors}"
    assert outside == [], f"{page}: requests leaving the site {outside}"
    stem = Path(page).stem
    if page.startswith("lessons/"):
        assert tab.locator(".cell_output img").count() > 0, f"{page} shows no figure"
        SHOTS.mkdir(parents=True, exist_ok=True)  # the lesson's first figure, in its page
        tab.locator(".cell_output img").first.scroll_into_view_if_needed()
        tab.screenshot(path=str(SHOTS / f"{stem}.png"), full_page=False)
        assert colab_url(f"notebooks/student/{stem}.ipynb", SETTING) in hrefs
        downloads = [h for h in hrefs if h and "_downloads" in h and h.endswith(".ipynb")]
        names = sorted(h.rsplit("/", 1)[1] for h in downloads)
        if EDITION == "student":
            assert names == [f"{stem}.student.ipynb"], f"{page}: download links {downloads}"
        else:
            assert colab_url(f"notebooks/{stem}.ipynb", SETTING) in hrefs
            assert names == [f"{stem}.ipynb", f"{stem}.student.ipynb"], downloads
        for href in downloads:
            fetched = context.request.get(f"{site}/lessons/{href}")
            assert fetched.ok and fetched.json()["cells"], href
            # Saved on its own, a notebook has no ../docs beside it; a student copy holds
            # no solution and opens with the set-up cell that installs the course.
            cells = fetched.json()["cells"]
            markdown = "".join("".join(c["source"]) for c in cells
                               if c["cell_type"] == "markdown")
            assert "](../" not in markdown, f"{href}: a link relative to the repository"
            if href.endswith(".student.ipynb"):
                assert "BEGIN SOLUTION" not in fetched.text(), href
                setup = next(c for c in cells if "setup" in c["metadata"].get("tags", []))
                assert "".join(setup["source"]) == setup_cell_source(SETTING), href
        # At home: the page names the copy that JupyterLab opens and links to Get started.
        local = tab.locator("p", has_text="in JupyterLab on your computer").first
        assert f"notebooks/student/{stem}.ipynb" in local.inner_text(), page
        assert local.locator("a[href='../get-started.html']").count() == 1, page
        # On a phone a figure shrinks to the column: each opens at full size with a tap.
        unlinked = tab.evaluate("() => Array.from(document.querySelectorAll('.cell_output img'))"
                                ".filter(i => !(i.closest('a') && i.closest('a')"
                                ".getAttribute('href').endsWith('.png'))).length")
        assert unlinked == 0, f"{page}: {unlinked} figures that do not open at full size"
        if tab.locator(".widget-note").count():
            assert "Error displaying widget" not in tab.content()
    # Last, so that a lesson whose figures still lack alt text is checked for the rest too.
    alts = tab.evaluate("() => Array.from(document.querySelectorAll('article img'))"
                        ".map(i => [i.getAttribute('src'), i.getAttribute('alt') || ''])")
    no_alt = [src for src, alt in alts
              if not alt.strip() or re.search(r"\.(png|jpe?g|svg|gif)$", alt.strip(), re.I)]
    assert no_alt == [], f"{page}: {len(no_alt)} of {len(alts)} images without alt text"
    context.close()


def test_on_a_phone_the_home_page_first_screen_shows_the_clone_line(site, browser):  # noqa: F811
    """At 390 × 844 px: the repository link at the top and the clone line with `make lab`
    right under it, before any scrolling."""
    tab = browser.new_page(viewport={"width": 390, "height": 844})
    tab.goto(f"{site}/index.html", wait_until="load")
    top = tab.evaluate("""() => Array.from(document.querySelectorAll('a'))
        .filter(a => a.getAttribute('href') === arguments_repo && a.offsetParent !== null)
        .map(a => a.getBoundingClientRect().top)""".replace(
        "arguments_repo", repr(SETTING.repo_url)))
    assert top and min(top) < 100, f"repository link at {top}"
    clone = tab.evaluate("""() => Array.from(document.querySelectorAll('article pre'))
        .find(e => e.innerText.includes('git clone')).getBoundingClientRect().bottom""")
    assert clone < 844, f"the clone line ends at {clone:.0f} px, below the first screen"
    assert "make lab" in tab.locator("article").inner_text()
    tab.close()


@pytest.mark.parametrize("lesson", LESSONS)
def test_on_a_phone_no_formula_runs_past_the_column(lesson, site, browser):  # noqa: F811
    """At 390 px a formula does not wrap: none, inline or in a heading, may be wider than
    the text column, or it is cut at the screen's edge (a display formula may scroll)."""
    tab = browser.new_page(viewport={"width": 390, "height": 844})
    tab.goto(f"{site}/lessons/{lesson}.html", wait_until="load")
    if tab.locator(".math.notranslate").count():
        tab.wait_for_function("() => !!(window.MathJax && MathJax.startup"
                              " && MathJax.startup.promise)", timeout=60_000)
        tab.evaluate("() => MathJax.startup.promise")
    cut = tab.evaluate("""() => {
        const column = document.querySelector('article').getBoundingClientRect();
        return Array.from(document.querySelectorAll(
            'article mjx-container:not([display="true"])'))
          .filter(m => m.getBoundingClientRect().right > column.right + 1)
          .map(m => Math.round(m.getBoundingClientRect().width) + ' px: '
                    + (m.getAttribute('aria-label') || m.textContent).slice(0, 60)); }""")
    assert cut == [], f"{lesson}: formulas cut at 390 px: {cut}"
    tab.close()
