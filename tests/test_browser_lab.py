"""Lessons 04, 05 and 07 in JupyterLab, in headless Chromium, as a learner runs them.

JupyterLab serves a copy of the lessons on 127.0.0.1 with a token; Playwright drives the
system Chromium: open the lesson, Run All, wait until the kernel is idle and no cell is
pending, then assert that no cell has an error output and that no widget failed to
display. Then every slider (arrow key) and dropdown (another option) of the lesson's
interactive figure is moved, and the figure's image must change; the round trip (from
the change to the new image in the page) is measured in the page and written to
``build/browser-report.json``.

Run by ``make test-browser`` (``CAMLIB_BROWSER_TESTS=1``); skipped otherwise.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from browser_support import browser  # noqa: F401 (fixture)

from camcourse.coursework.colab import BADGE_IMAGE

ROOT = Path(__file__).resolve().parent.parent
LESSONS = ["04_swapping_the_sums", "05_seeing_cams", "07_weakly_supervised_localization"]
REPORT = ROOT / "build" / "browser-report.json"
RESULTS: dict[str, list[dict]] = {}

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.environ.get("CAMLIB_BROWSER_TESTS"),
                       reason="browser test: run by `make test-browser` (CAMLIB_BROWSER_TESTS=1)"),
]

# No network from the Lab: no news, no update checks.
NO_NEWS = {"@jupyterlab/apputils-extension/notification.jupyterlab-settings":
           {"fetchNews": "false", "checkForUpdates": False}}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab on 127.0.0.1 serving a copy of the lessons; yields (base URL, token)."""
    tmp = tmp_path_factory.mktemp("lab")
    served = tmp / "notebooks"
    shutil.copytree(ROOT / "notebooks", served,
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints", "student"))
    settings = tmp / "settings"
    for name, values in NO_NEWS.items():
        (settings / name).parent.mkdir(parents=True, exist_ok=True)
        (settings / name).write_text(json.dumps(values))
    token, port = secrets.token_hex(16), _free_port()
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(tmp / "config"),
           "JUPYTERLAB_SETTINGS_DIR": str(settings),
           "JUPYTERLAB_WORKSPACES_DIR": str(tmp / "workspaces"),
           "JUPYTER_RUNTIME_DIR": str(tmp / "runtime")}
    env.pop("MPLBACKEND", None)  # the kernel's inline backend, as a learner has it
    log = (tmp / "lab.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1",
         f"--port={port}", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={served}",
         "--LabApp.expose_app_in_browser=True", "--ServerApp.open_browser=False",
         "--allow-root"], env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=5):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"JupyterLab did not start: {(tmp / 'lab.log').read_text()}")
                time.sleep(0.5)
        yield base, token
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
        RESULTS and _write_report()


def _write_report() -> None:
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(json.dumps(RESULTS, indent=1) + "\n")
    for lesson, rows in RESULTS.items():
        for row in rows:
            what = "took" if row["control"] == "Run All" else "round trip"
            print(f"{lesson}: {row['control']} {what} {row['ms']:.0f} ms")


NOTEBOOK_STATE = """() => {
  const panel = window.jupyterapp.shell.currentWidget;
  if (!panel || !panel.content || !panel.sessionContext) return null;
  const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
  const cells = panel.content.model.cells;
  let pending = 0, queued = 0, errors = [], code = 0;
  for (let i = 0; i < cells.length; i++) {
    const cell = cells.get(i);
    if (cell.type !== 'code') continue;
    code++;
    if (cell.executionCount === null) pending++;
    const prompt = panel.content.widgets[i] && panel.content.widgets[i].promptNode;
    if (prompt && prompt.textContent.includes('*')) queued++;  // [*]: queued or running
    const outputs = cell.outputs.toJSON();
    for (const o of outputs)
      if (o.output_type === 'error') errors.push(`cell ${i}: ${o.ename}: ${o.evalue}`);
  }
  return {status: kernel ? kernel.status : 'none', pending, queued, errors, code};
}"""

# Images of the lesson's interactive figure: the <img> in the widget output area.
# The test marks the last interact widget of the lesson (the one under test) with this attribute.
FIGURE = "[data-camlib-under-test] img"
OBSERVE = """() => {
  window.__changedAt = null;
  const img = () => document.querySelector(FIGURE_SELECTOR);
  window.__before = img() ? img().src : null;
  if (window.__observer) window.__observer.disconnect();
  window.__observer = new MutationObserver(() => {
    const now = img();
    if (window.__changedAt === null && now && now.src !== window.__before && now.complete)
      window.__changedAt = performance.now();
  });
  window.__observer.observe(document.body, {subtree: true, childList: true, attributes: true});
  window.__startedAt = performance.now();
  return window.__before;
}""".replace("FIGURE_SELECTOR", json.dumps(FIGURE))


READY = """() => {
  const app = window.jupyterapp;
  const panel = app && app.shell.currentWidget;
  return !!(panel && panel.context && panel.context.isReady && panel.sessionContext
            && panel.sessionContext.isReady && panel.sessionContext.session
            && panel.sessionContext.session.kernel
            && panel.sessionContext.session.kernel.status === 'idle'
            && panel.content && panel.content.widgets.length > 0);
}"""


def _run_all(tab, lesson: str) -> dict:
    """Run All, then wait until the kernel is idle with no cell queued and none waiting;
    returns the notebook's state with the seconds it took.

    Progress is judged from the cells (an execution count, a ``[*]`` prompt), never from a
    busy kernel alone: the widget manager's requests make the kernel busy for a moment too.
    A Run All sent while the Lab settles can be dropped; if the notebook stays idle with
    cells never run for 10 s, Run All is sent again (three times at most).
    """
    tab.wait_for_function(READY, timeout=180_000)
    start = time.monotonic()
    sent, quiet_since, state = 0, None, None
    while time.monotonic() - start < 300:
        state = tab.evaluate(NOTEBOOK_STATE)
        now = time.monotonic()
        if state["status"] != "idle" or state["queued"]:
            quiet_since = None
        elif sent and (state["pending"] == 0 or state["errors"]):
            time.sleep(1.0)  # idle twice in a row: nothing queued behind
            state = tab.evaluate(NOTEBOOK_STATE)
            if state["status"] == "idle" and not state["queued"]:
                break
        elif sent == 0 or (quiet_since is not None and now - quiet_since > 10):
            assert sent < 3, f"{lesson}: Run All sent {sent} times, no cell ran: {state}"
            tab.evaluate("() => { const app = window.jupyterapp;"
                         " app.shell.activateById(app.shell.currentWidget.id);"
                         " return app.commands.execute('notebook:run-all-cells'); }")
            sent, quiet_since = sent + 1, now
        elif quiet_since is None:
            quiet_since = now
        time.sleep(0.3)
    else:
        pytest.fail(f"{lesson}: still running after 300 s: {state}")
    state["seconds"] = time.monotonic() - start
    return state


def _round_trip(tab, lesson: str, control: str, act) -> float:
    before = tab.evaluate(OBSERVE)
    assert before, f"{lesson}: no figure image in the widget's output"
    act()
    tab.wait_for_function("() => window.__changedAt !== null", timeout=30_000)
    ms = tab.evaluate("() => window.__changedAt - window.__startedAt")
    RESULTS.setdefault(lesson, []).append({"control": control, "ms": round(ms, 1)})
    return ms


@pytest.mark.parametrize("lesson", LESSONS)
def test_lesson_runs_in_jupyterlab_and_its_widgets_redraw(lesson, lab, browser):  # noqa: F811
    base, token = lab
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    outside = []

    def only_the_lab(route) -> None:  # the lesson's Colab badge is the one outside image
        if not route.request.url.startswith(base) and route.request.url != BADGE_IMAGE:
            outside.append(route.request.url)
        route.continue_() if route.request.url.startswith(base) else route.abort()

    context.route("**/*", only_the_lab)
    tab = context.new_page()
    console_errors = []
    tab.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    tab.goto(f"{base}/lab/tree/{lesson}.ipynb?token={token}", wait_until="domcontentloaded")
    state = _run_all(tab, lesson)
    assert state["errors"] == [], f"{lesson}: error outputs {state['errors']}"
    assert "Error displaying widget" not in tab.content(), f"{lesson}: a widget failed"
    RESULTS.setdefault(lesson, []).append({"control": "Run All", "ms": state["seconds"] * 1000})

    widget = tab.locator(".jp-OutputArea-output .widget-interact").last
    widget.scroll_into_view_if_needed()
    widget.evaluate("w => w.setAttribute('data-camlib-under-test', '')")
    tab.wait_for_selector(FIGURE, timeout=60_000)
    sliders = widget.locator(".widget-slider")
    dropdowns = widget.locator(".widget-dropdown select")
    assert sliders.count() + dropdowns.count() >= 2, f"{lesson}: controls not found"
    for i in range(sliders.count()):
        slider = sliders.nth(i)
        name = slider.locator(".widget-label").inner_text().strip() or f"slider {i}"
        handle = slider.locator(".noUi-handle, .ui-slider-handle, input[type=range]").first

        def move(handle=handle):
            handle.focus()
            handle.press("ArrowRight")

        _round_trip(tab, lesson, f"slider '{name}'", move)
    for i in range(dropdowns.count()):
        select = dropdowns.nth(i)
        options = select.locator("option")
        current = select.evaluate("s => s.selectedIndex")
        target = (current + max(1, options.count() // 2)) % options.count()
        label = select.locator("xpath=..").locator(".widget-label").inner_text().strip()
        _round_trip(tab, lesson, f"dropdown '{label or i}'",
                    lambda select=select, target=target: select.select_option(index=target))
    assert "Error displaying widget" not in tab.content(), f"{lesson}: a widget failed"
    assert outside == [], f"{lesson}: requests leaving 127.0.0.1: {outside}"
    context.close()
