"""The course's website (``make book``) in headless Chromium: every page loads with no console
error and no request leaving 127.0.0.1, formulas are typeset by the site's own MathJax 3,
images load and carry alt text that is not a file name, no code cell or output scrolls
sideways at 1280 px, every page links to the course's repository, and every lesson has
working Colab links and download links under distinct names. The student edition
(``CAMLIB_BOOK_EDITION=student``) holds no solution and no answers page. One screenshot per
lesson goes to ``build/book-screenshots/`` (an artefact, not in git).

Run by ``make book`` after the build (``CAMLIB_BROWSER_TESTS=1``); skipped otherwise.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from browser_support import browser, serve_folder  # noqa: F401 (fixture)

from camcourse.course import colab_url, load_setting

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
        if EDITION == "student" and doc.name == "answers.md":
            assert "answers.html" not in pages
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
        if tab.locator(".widget-note").count():
            assert "Error displaying widget" not in tab.content()
    # Last, so that a lesson whose figures still lack alt text is checked for the rest too.
    alts = tab.evaluate("() => Array.from(document.querySelectorAll('article img'))"
                        ".map(i => [i.getAttribute('src'), i.getAttribute('alt') || ''])")
    no_alt = [src for src, alt in alts
              if not alt.strip() or re.search(r"\.(png|jpe?g|svg|gif)$", alt.strip(), re.I)]
    assert no_alt == [], f"{page}: {len(no_alt)} of {len(alts)} images without alt text"
    context.close()
