"""The report in a real browser: headless Chromium, driven by Selenium, opens the file offline.

It must render without a console error, with every chart drawn at a real size, at a desk's
width, at a phone's (no sideways scrolling of the page) and for print on A4. Debian's
`chromium` and `chromium-driver` provide the browser (`make browser` installs them; `.ci/run`
does before the tests). Without them the test skips, unless `CI` is set: then it fails, so CI
never passes without having looked.
"""

from __future__ import annotations

import base64
import os
import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from support.cli import cli
from support.ical import HOUR, session
from support.scenario import NOW, Coach

DAY = timedelta(days=1)
BROWSERS = ("chromium", "chromium-browser", "google-chrome")
HOSTILE = "<script>alert(1)</script> Carmen"


def _browser() -> tuple[str, str] | None:
    """Chromium and its driver, when both are installed."""
    binary = next((found for name in BROWSERS if (found := shutil.which(name))), None)
    driver = shutil.which("chromedriver")
    return (binary, driver) if binary and driver else None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    found = _browser()
    if found is None:
        message = "no Chromium with chromedriver found; `make browser` installs Debian's chromium and chromium-driver"
        if os.environ.get("CI"):
            pytest.fail(message)
        # `make test` needs only Python and make; outside CI a machine without Chromium may leave this out.
        pytest.skip(message)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = found[0]
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=found[1]))
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def report(tmp_path: Path) -> Path:
    coach = Coach(tmp_path, extra_yaml="agreement: {cadence: weekly}\n")
    sessions = [session(f"a{n}", NOW - (35 - 7 * n) * DAY) for n in range(7)]
    carmen = session("c1", NOW - 3 * DAY, None, HOSTILE)
    coach.write(*sessions, carmen)
    assert cli(coach, "sync", at=NOW - 40 * DAY).exit_code == 0
    coach.write(*sessions[:2], session("a2", NOW - 20 * DAY + 2 * HOUR), *sessions[4:], carmen)
    assert cli(coach, "sync", at=NOW - 22 * DAY).exit_code == 0
    output = tmp_path / "report.html"
    assert cli(coach, "report", "--output", str(output)).exit_code == 0
    return output


def _chart_sizes(driver: Any) -> list[tuple[float, float]]:
    rects = driver.execute_script(
        "return [...document.querySelectorAll('svg')].map(s => { const r = s.getBoundingClientRect();"
        " return [r.width, r.height]; })"
    )
    return [(float(w), float(h)) for w, h in rects]


def test_the_report_renders_without_errors_and_its_charts_have_a_size(browser: Any, report: Path) -> None:
    browser.set_window_size(1200, 900)
    browser.get(report.as_uri())

    errors = [entry for entry in browser.get_log("browser") if entry["level"] in ("SEVERE", "WARNING")]
    assert errors == []
    sizes = _chart_sizes(browser)
    assert len(sizes) == 4 * 3 and all(width > 300 and height > 80 for width, height in sizes)
    assert browser.execute_script("return document.scripts.length") == 0
    assert browser.title == "Coaching report"
    cells = browser.execute_script("return [...document.querySelectorAll('td')].map(td => td.textContent)")
    assert HOSTILE in cells


def test_on_a_phone_the_page_does_not_scroll_sideways(browser: Any, report: Path) -> None:
    browser.set_window_size(390, 844)
    browser.get(report.as_uri())

    inner = browser.execute_script("return window.innerWidth")
    assert browser.execute_script("return document.documentElement.scrollWidth") <= inner
    assert all(0 < width <= inner for width, _ in _chart_sizes(browser))


def test_it_prints_on_a4_with_each_client_on_a_page_of_their_own(browser: Any, report: Path) -> None:
    from selenium.webdriver.common.print_page_options import PrintOptions

    browser.set_window_size(1200, 900)
    browser.get(report.as_uri())
    browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    assert all(width > 300 and height > 80 for width, height in _chart_sizes(browser))

    options = PrintOptions()
    options.page_width, options.page_height = 21.0, 29.7
    pdf = base64.b64decode(browser.print_page(options))

    assert pdf.startswith(b"%PDF")
    pages = pdf.count(b"/Type /Page") - pdf.count(b"/Type /Pages")
    assert pages >= 4  # the overview, then a page (or more) for each of the three clients
