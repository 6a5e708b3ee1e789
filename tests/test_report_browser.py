"""The demo report in headless Chromium: no console errors, every chart drawn offline."""

from __future__ import annotations

import shutil

import pytest

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")


@pytest.fixture(scope="module")
def browser():
    if not (CHROMIUM and CHROMEDRIVER):
        pytest.skip(
            "Debian packages chromium and chromium-driver are not installed (.ci/run installs them)"
        )
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--window-size=1280,2000",
    ):
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=opts)
    yield driver
    driver.quit()


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
    browser.set_window_size(1280, 2000)
    browser.get(planted_run.html.resolve().as_uri())
    overflow = browser.execute_script(
        """
        const out = [];
        document.querySelectorAll('table').forEach((t, i) => {
          const box = t.parentElement;
          if (box.scrollWidth > box.clientWidth || t.scrollWidth > t.clientWidth) {
            out.push(i + ': ' + box.scrollWidth + ' > ' + box.clientWidth);
          }
        });
        const doc = document.documentElement;
        if (doc.scrollWidth > doc.clientWidth) out.push('page ' + doc.scrollWidth);
        return out;
        """
    )
    assert overflow == []
    # Every table sits in a container: the check above covered them all.
    assert browser.execute_script("return document.querySelectorAll('table').length") >= 8
