"""A real, headless browser for the Replication page: Debian's Chromium driven by Selenium.

The browser and its driver are Debian's packages (``chromium``, ``chromium-driver``, which
``make test`` installs): Selenium is given both paths, so its Selenium Manager never runs
and nothing is downloaded. The machine's network is closed, so Chromium starts with
everything that would call home switched off, and with a fresh profile each time.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)
T = TypeVar("T")


def missing_browser() -> list[str]:
    """The Debian packages of the browser tests that are not installed."""
    needed = {"chromium": CHROMIUM, "chromium-driver": CHROMEDRIVER}
    return [package for package, path in needed.items() if not path.exists()]


@contextmanager
def chromium(profile: Path, width: int = 1440, height: int = 900) -> Iterator[WebDriver]:
    """A headless Chromium with a fresh profile in ``profile``; quit afterwards."""
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def wait(driver: WebDriver, what: str, check: Callable[[WebDriver], T], timeout: float = 30) -> T:
    """Poll ``check`` until it returns something truthy; fail naming ``what``.

    The page redraws its tables while executions run: an element that went away with a
    redraw is looked for again at the next poll.
    """
    waiting = WebDriverWait(
        driver, timeout, poll_frequency=0.2, ignored_exceptions=(StaleElementReferenceException,)
    )
    return waiting.until(check, f"waiting for {what}")


def element(driver: WebDriver, css: str, timeout: float = 30) -> WebElement:
    """The first visible element matching ``css``, once there is one."""

    def visible(d: WebDriver) -> WebElement | None:
        found = [e for e in d.find_elements(By.CSS_SELECTOR, css) if e.is_displayed()]
        return found[0] if found else None

    return wait(driver, css, visible, timeout)


def settle(seconds: float = 0.4) -> None:
    """Let a transition or a re-render finish before a screenshot."""
    time.sleep(seconds)
