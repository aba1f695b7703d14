"""The published book as a reader sees it: every page opened in headless Chromium.

``make test`` builds the book from the notebooks it has just executed in the ``ci`` profile
(``_build/ci-site``, see the Makefile) and then runs this file with ``HARLEARN_SITE`` pointing at
the built HTML. Without ``HARLEARN_SITE`` the tests are skipped (a plain ``pytest tests`` has no
book to open); with it set, a missing site, browser or driver is a failure.

Checked on every page: no JavaScript error in the console, every image loaded, every internal
link (and its ``#fragment``) resolves, every Colab link opens the ``.ipynb`` committed at that
path. Then: the search page finds a word of a chapter, and a solution opens when clicked.

The machine is offline, so resources on other hosts (MathJax from its CDN, the Colab badge's
image) cannot load here: their load failures are not counted as errors, everything served by the
site itself is. Chromium and its driver are Debian's ``chromium`` and ``chromium-driver``
(installed by ``make test``), driven by ``selenium``.
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import threading
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urljoin, urlparse

import pytest

ROOT = Path(__file__).resolve().parents[1]
SITE = os.environ.get("HARLEARN_SITE")
pytestmark = pytest.mark.skipif(not SITE, reason="HARLEARN_SITE is not set: `make test` builds the book and sets it")

CHROMIUM = os.environ.get("HARLEARN_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("HARLEARN_CHROMEDRIVER", "/usr/bin/chromedriver")
COLAB = re.compile(r"https://colab\.research\.google\.com/github/[^/]+/[^/]+/blob/[^/]+/(?P<path>.+\.ipynb)$")


def _pages(html: Path) -> list[Path]:
    return sorted(p for p in html.rglob("*.html") if not {"_static", "_sources"} & set(p.relative_to(html).parts))


class _Ids(HTMLParser):
    """The ``id`` (and old-style ``name``) anchors of one page."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        for key, value in attrs:
            if key == "id" or (tag == "a" and key == "name"):
                self.ids.add(value)


@functools.cache
def _ids(path: Path) -> frozenset[str]:
    parser = _Ids()
    parser.feed(path.read_text(errors="replace"))
    return frozenset(parser.ids)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # no request log in the test output
        pass


@pytest.fixture(scope="module")
def site():
    html = Path(SITE)
    assert (html / "index.html").is_file(), f"{html} holds no built book: run `make test` (it builds _build/ci-site)."
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(html)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield html, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    for exe, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        assert shutil.which(exe), f"{exe} not found: install Debian's {package} (`make test` does)."
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1280,900"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def _is_local(url: str, base: str) -> bool:
    return url.startswith(base) or not urlparse(url).netloc


def _console_errors(driver, base: str) -> list[str]:
    errors = []
    for entry in driver.get_log("browser"):
        if entry["level"] != "SEVERE":
            continue
        message = entry["message"]
        url = message.split(" ", 1)[0]
        if url.startswith("http") and not url.startswith(base):
            continue  # a resource on another host: offline here (see the module docstring)
        errors.append(message)
    return errors


def test_every_page_loads_cleanly(site, browser):
    html, base = site
    pages = _pages(html)
    assert len(pages) >= 10, f"only {len(pages)} pages in {html}"
    problems: list[str] = []
    colab_links = 0
    for page in pages:
        rel = page.relative_to(html).as_posix()
        browser.get(urljoin(base, rel))
        for message in _console_errors(browser, base):
            problems.append(f"{rel}: console error: {message}")
        images = browser.execute_script(
            "return Array.from(document.images).map(i => [i.currentSrc || i.src, i.complete && i.naturalWidth > 0]);")
        for src, loaded in images:
            if _is_local(src, base) and not loaded:
                problems.append(f"{rel}: image not loaded: {src}")
        links = browser.execute_script("return Array.from(document.querySelectorAll('a[href]')).map(a => a.href);")
        for href in links:
            if m := COLAB.match(href):
                colab_links += 1
                notebook = ROOT / m["path"]
                expected = "book/" + page.stem + ".ipynb"
                if not notebook.is_file():
                    problems.append(f"{rel}: Colab link to {m['path']}, which is not committed")
                elif page.parent.name == "book" and m["path"] != expected:
                    problems.append(f"{rel}: Colab link to {m['path']}, expected {expected}")
                continue
            if not href.startswith(base):
                continue
            parsed = urlparse(href)
            target = html / unquote(parsed.path[1:] or "index.html")
            if target.is_dir():
                target = target / "index.html"
            if not target.exists():
                problems.append(f"{rel}: broken link {href}")
            elif parsed.fragment and target.suffix == ".html" and unquote(parsed.fragment) not in _ids(target):
                problems.append(f"{rel}: link to a missing anchor {href}")
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems[:40])
    chapters = [p for p in pages if re.match(r"\d\d_", p.name)]
    assert colab_links >= len(chapters), f"{colab_links} Colab links for {len(chapters)} chapters"


def test_search_finds_a_word_of_a_chapter(site, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    _, base = site
    browser.get(urljoin(base, "search.html?q=bottleneck"))
    WebDriverWait(browser, 30).until(EC.presence_of_element_located((By.CSS_SELECTOR, "#search-results ul.search li")))
    hits = [a.get_attribute("href") for a in browser.find_elements(By.CSS_SELECTOR, "#search-results ul.search li a")]
    assert any("02_cnn_baselines" in h for h in hits), f"searching 'bottleneck' did not find chapter 2: {hits}"
    assert not _console_errors(browser, base)


def test_a_solution_opens_when_clicked(site, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    html, base = site
    chapter = sorted((html / "book").glob("0[1-9]_*.html"))[0]
    browser.get(urljoin(base, chapter.relative_to(html).as_posix()))
    solution = browser.find_element(By.CSS_SELECTOR, "div.solution.dropdown")
    body = solution.find_elements(By.CSS_SELECTOR, ":scope > :not(.admonition-title)")
    assert body and not any(e.is_displayed() for e in body), "a solution is visible before it is opened"
    button = solution.find_element(By.CSS_SELECTOR, "button.toggle-button")  # the title's link leads to the exercise
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", button)
    time.sleep(0.3)
    button.click()
    WebDriverWait(browser, 10).until(lambda d: any(e.is_displayed() for e in body))
