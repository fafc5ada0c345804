"""The book in a real browser, and the widgets in a real JupyterLab (headless Chromium).

Driven by Playwright for Python pointed at the system's Chromium (Debian's ``chromium``
package; ``$CHROMIUM`` overrides the path); no browser is downloaded. Without a Chromium these
tests are skipped with that reason; ``.ci/run`` installs it, so CI always runs them.

This file runs after ``test_book.py`` (same folder, later name), which builds ``_build/html``;
run on its own, it builds the book from the executed notebooks first.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
import bookrunner

pytestmark = pytest.mark.book

HTML = bookrunner.HTML_DIR
SCREENSHOTS = ROOT / "_build" / "screenshots"
CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
# A word of chapter 1 that the search must find.
SEARCH_WORD = "Fresnel"


def _require_browser():
    if not CHROMIUM:
        pytest.skip("no Chromium found (install Debian's chromium package, or set $CHROMIUM)")
    return pytest.importorskip("playwright.sync_api", reason="Playwright for Python is not installed")


@pytest.fixture(scope="module")
def browser():
    sync_api = _require_browser()
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def site():
    """``_build/html`` served on 127.0.0.1 (built first if missing); yields the base URL."""
    if not (HTML / "index.html").is_file():
        for source in bookrunner.source_notebooks():
            if not (bookrunner.EXECUTED_DIR / source.name).exists():
                bookrunner.execute_notebook(source, profile="smoke", seed=0)
        bookrunner.build_book()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(HTML)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def _pages() -> list[Path]:
    return sorted(p for p in HTML.rglob("*.html") if not p.relative_to(HTML).parts[0].startswith("_"))


def _ids(html: str) -> set[str]:
    return set(re.findall(r'\sid="([^"]+)"', html))


def _check_internal_links(page: Path, hrefs: list[str], base: str) -> list[str]:
    """Links to this site that point at a missing file or a missing anchor."""
    broken = []
    for href in hrefs:
        parts = urlsplit(href)
        if f"{parts.scheme}://{parts.netloc}" != base:
            continue
        target = HTML / unquote(parts.path).lstrip("/")
        if target.is_dir():
            target = target / "index.html"
        if not target.is_file():
            broken.append(href)
        elif parts.fragment and target.suffix == ".html" and unquote(parts.fragment) not in _ids(target.read_text()):
            broken.append(href)
    return broken


def test_every_page_loads_with_figures_math_and_working_links(browser, site):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    pages = _pages()
    assert len(pages) >= len(bookrunner.source_notebooks()) + 2
    problems = {}
    for path in pages:
        rel = path.relative_to(HTML).as_posix()
        redirect = re.search(r'http-equiv="refresh" content="\d+;\s*url=([^"]+)"', path.read_text(), re.IGNORECASE)
        if redirect:  # the root index only forwards to the introduction
            if not (path.parent / redirect.group(1)).is_file():
                problems[rel] = [f"redirects to a missing page: {redirect.group(1)}"]
            continue
        page = browser.new_page(viewport={"width": 1300, "height": 900})
        errors = []
        page.on("console", lambda m, errors=errors: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e, errors=errors: errors.append(f"uncaught: {e}"))
        page.on("response", lambda r, errors=errors: errors.append(f"HTTP {r.status} {r.url}") if r.status >= 400 else None)
        page.goto(f"{site}/{rel}", wait_until="load")
        if page.evaluate("() => document.querySelectorAll('.math').length") > 0:
            page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise", timeout=20000)
            page.evaluate("() => MathJax.startup.promise")
        # every image decoded (wait for those still loading)
        page.evaluate("""() => Promise.all([...document.images].map(i => i.complete ? 0 :
            new Promise(r => { i.addEventListener('load', r); i.addEventListener('error', r); })))""")
        found = page.evaluate(r"""() => ({
            broken_images: [...document.images].filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src),
            math: document.querySelectorAll('.math').length,
            untypeset: [...document.querySelectorAll('.math')].filter(m => !m.querySelector('mjx-container')).length,
            raw_math: [...document.querySelectorAll('article p, article li, article td, nav a')]
                .filter(p => !p.closest('pre, code') && /\$\$|\$[^$\s][^$]*\$|\\\(/.test(p.textContent)).length,
            hrefs: [...document.querySelectorAll('a[href]')].map(a => a.href),
            provenance: [...document.querySelectorAll('details.deblurkit-provenance')].map(d => d.textContent),
        })""")
        errors = [e for e in errors if "favicon.ico" not in e]
        issues = []
        if errors:
            issues.append(f"console errors: {errors[:5]}")
        if found["broken_images"]:
            issues.append(f"images not loaded: {found['broken_images'][:5]}")
        if found["untypeset"] or found["raw_math"]:
            issues.append(f"math not typeset: {found['untypeset']} of {found['math']} elements, {found['raw_math']} paragraphs with raw TeX")
        block = " ".join(found["provenance"])  # every chapter ends with how it was built (ChapterClock.finish)
        if "notebooks" in path.parts and not all(w in block for w in ("profile, seed", "commit", "threads", "executed", "this page")):
            issues.append(f"no complete provenance block at the foot: {block[:200]!r}")
        broken = _check_internal_links(path, found["hrefs"], site)
        if broken:
            issues.append(f"broken internal links: {broken[:5]}")
        page.screenshot(path=str(SCREENSHOTS / (rel.replace("/", "__").removesuffix(".html") + ".png")), full_page=True)
        page.close()
        if issues:
            problems[rel] = issues
    assert not problems, json.dumps(problems, indent=1)
    chapter_pages = [p for p in pages if "notebooks" in p.parts]
    assert len(chapter_pages) == len(bookrunner.source_notebooks())


def test_search_finds_a_word_of_chapter_one(browser, site):
    page = browser.new_page()
    page.goto(f"{site}/search.html?q={SEARCH_WORD}", wait_until="load")
    page.wait_for_selector("#search-results ul.search li", timeout=20000)
    results = page.evaluate("() => [...document.querySelectorAll('#search-results ul.search li a')].map(a => a.href)")
    page.close()
    assert any("01_acceleration_otf" in href for href in results), results


# ---------------------------------------------------------------------------------------------
# JupyterLab: chapter 1's explorer in a real frontend


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def jupyter_lab(root_dir: Path, token: str):
    """A JupyterLab server on 127.0.0.1 (free port, token, no browser); always shut down."""
    port = _free_port()
    jupyter = Path(sys.executable).with_name("jupyter")
    cmd = [
        str(jupyter), "lab", "--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
        f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root_dir}",
        "--LabApp.expose_app_in_browser=True", "--ServerApp.open_browser=False",
        # nothing to fetch from the internet
        "--LabApp.extension_manager=readonly", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")  # CI containers run as root
    env = {**os.environ, "DEBLURKIT_HOME": str(ROOT), "DEBLURKIT_QUIET": "1"}
    env.pop("MPLBACKEND", None)
    log = open(root_dir / "jupyter.log", "w")  # noqa: SIM115 (closed below)
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2)
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"JupyterLab did not start:\n{(root_dir / 'jupyter.log').read_text()[-3000:]}") from None
                time.sleep(0.5)
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


def _smoke_copy(source: Path, folder: Path) -> Path:
    """``source`` with papermill's parameters for the smoke profile and live explorers."""
    import nbformat
    from papermill.iorw import load_notebook_node
    from papermill.parameterize import parameterize_notebook

    nb = parameterize_notebook(load_notebook_node(str(source)), {"profile": "smoke", "seed": 0, "interactive": True})
    target = folder / source.name
    nbformat.write(nb, target)
    return target


def test_a_slider_redraws_chapter_one_figure_in_jupyterlab(browser, tmp_path):
    source = bookrunner.SOURCE_DIR / "01_acceleration_otf.ipynb"
    notebook = _smoke_copy(source, tmp_path)
    token = "deblur-test-token"
    with jupyter_lab(tmp_path, token) as url:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{url}/lab/tree/{notebook.name}?token={token}", wait_until="load")
        page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell.currentWidget "
                               "&& window.jupyterapp.shell.currentWidget.sessionContext", timeout=90000)
        page.wait_for_function("() => window.jupyterapp.shell.currentWidget.sessionContext.session?.kernel", timeout=90000)
        page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
        slider = page.locator(".widget-hslider .noUi-handle").first
        slider.wait_for(state="visible", timeout=240000)
        explorer = page.locator(".widget-vbox", has=page.locator(".widget-hslider")).first
        figure = explorer.locator("img").first
        figure.wait_for(state="visible", timeout=60000)
        before = figure.get_attribute("src")
        slider.scroll_into_view_if_needed()
        slider.focus()
        for _ in range(4):
            page.keyboard.press("ArrowRight")
        deadline = time.monotonic() + 30
        after = before
        while time.monotonic() < deadline:
            imgs = explorer.locator("img")
            if imgs.count():
                after = imgs.first.get_attribute("src")
                if after and after != before:
                    break
            time.sleep(0.25)
        page.close()
    assert before and before.startswith("data:image/png"), before[:40] if before else before
    assert after != before, "moving the slider did not redraw the figure within 30 s"
