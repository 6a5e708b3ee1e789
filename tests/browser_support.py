"""Headless Chromium for the report tests: the driver, and the 1,280 px overflow check."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")

# Every table's container, and the page itself, must not scroll sideways.
_OVERFLOW_JS = """
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


def chromium() -> Iterator[Any]:
    """A headless Chromium driver at 1,280 px (skips where the Debian packages are absent)."""
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
    try:
        yield driver
    finally:
        driver.quit()


def sideways_overflow(driver: Any, html: Path) -> tuple[list[str], int]:
    """Tables (and the page) wider than their box at 1,280 px, and the number of tables."""
    driver.set_window_size(1280, 2000)
    driver.get(Path(html).resolve().as_uri())
    overflow = driver.execute_script(_OVERFLOW_JS)
    n_tables = driver.execute_script("return document.querySelectorAll('table').length")
    return list(overflow), int(n_tables)
