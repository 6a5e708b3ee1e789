"""The demo report in headless Chromium: no console errors, every chart drawn offline."""

from __future__ import annotations

import pytest

try:
    from browser_support import chromium, sideways_overflow
except ImportError:  # pragma: no cover - run from the repository root as a package
    from tests.browser_support import chromium, sideways_overflow

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def browser():
    yield from chromium()


def test_demo_report_renders_offline_without_console_errors(browser, planted_run):
    html = planted_run.html
    # Cut the network before loading: every chart must come from the file itself.
    browser.set_network_conditions(
        offline=True, latency=0, download_throughput=0, upload_throughput=0
    )
    browser.get(html.resolve().as_uri())
    images = browser.find_elements("tag name", "img")
    assert len(images) >= 5
    broken = [
        img.get_attribute("alt")
        for img in images
        if not browser.execute_script(
            "return arguments[0].complete && arguments[0].naturalWidth > 0", img
        )
    ]
    assert broken == []
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []
    shot = html.parent / "report_screenshot.png"
    assert browser.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000
    assert "SYNTHETIC DATA" in browser.find_element("tag name", "body").text


def test_demo_report_fits_1280_pixels_without_sideways_scrolling(browser, planted_run):
    overflow, n_tables = sideways_overflow(browser, planted_run.html)
    assert overflow == []
    # Every table sits in a container: the check above covered them all.
    assert n_tables >= 8
