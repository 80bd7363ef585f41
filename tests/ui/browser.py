"""Driving Debian's chromium with Playwright: launching it, signing in as a demo user, page checks.

Playwright cannot download its own browser here, so the tests use the system's ``chromium``. Without
it they skip, saying so, except under ``LSW_REQUIRE_SERVICES=1``, where a missing browser fails them.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "ui"
"""Screenshots of every page the browser tests visit (git-ignored; docs/images holds current ones)."""

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {"width": 375, "height": 812}
DESKTOP = {"width": 1200, "height": 900}


def chromium_path() -> str | None:
    """The system chromium (``LSW_CHROMIUM`` names another), or None."""
    configured = os.environ.get("LSW_CHROMIUM")
    if configured:
        return configured if Path(configured).exists() else None
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """A headless chromium for the module's tests (fresh profile per context)."""
    executable = chromium_path()
    if executable is None:
        message = "no chromium installed (apt-get install chromium); the browser tests need it"
        if os.environ.get("LSW_REQUIRE_SERVICES") == "1":
            pytest.fail(f"LSW_REQUIRE_SERVICES=1: {message}")
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


class PageProblems:
    """What went wrong in the pages of one browser context: console errors (CSP reports among them)."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def watch(self, page: Any) -> Any:
        def console(message: Any) -> None:
            if message.type == "error":
                self.errors.append(message.text)

        page.on("console", console)
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        return page


def screenshot(page: Any, name: str) -> None:
    """Keep a full-page screenshot of the current page as a test artifact."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def no_horizontal_scrolling(page: Any) -> None:
    """The page fits its viewport's width (nothing to scroll sideways)."""
    widths = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"{page.url} is {widths[0]} px wide in a {widths[1]} px viewport"


_CONTRAST_SCRIPT = (Path(__file__).parent / "contrast.js").read_text(encoding="utf-8")
"""A function (page.evaluate) returning the text elements whose contrast is below WCAG AA."""


def contrast_failures(page: Any) -> list[str]:
    """Text on the page whose contrast with its background is below WCAG AA."""
    failures: list[str] = page.evaluate(_CONTRAST_SCRIPT)
    return failures


def check_page(page: Any, name: str) -> None:
    """Screenshot the page, then check it fits its width and its text contrast."""
    screenshot(page, name)
    no_horizontal_scrolling(page)
    assert contrast_failures(page) == [], name


def sign_in(context: Any, base_url: str, user: str, problems: PageProblems) -> Any:
    """A page of ``context`` signed in as a demo user through the demo's user switch; it shows the inbox."""
    page = problems.watch(context.new_page())
    page.goto(f"{base_url}/demo/login")
    page.get_by_label("Act as").select_option(user)
    page.get_by_role("button", name="Continue to the inbox").click()
    page.wait_for_url(f"{base_url}/workflows/ui/")
    return page
