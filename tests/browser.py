"""What the browser tests share: Debian's Chromium driven by Playwright, a
host of their own to serve, screenshots, and a check that a page fits."""

import contextlib
import os
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.servers import free_port

CHROMIUM = Path("/usr/bin/chromium")

#: The marks of a browser test: it starts real processes, and needs Chromium.
MARKS = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="Debian's chromium is not installed (apt-get install chromium);"
        " .ci/run installs it",
    ),
]

#: Where a test saves what it saw, for a person to look at (CI keeps it;
#: ``TRACKBRIDGE_SCREENSHOTS=docs/screenshots`` renews the README's).
SCREENSHOTS = Path(
    os.environ.get("TRACKBRIDGE_SCREENSHOTS")
    or Path(__file__).resolve().parents[1] / "var" / "screenshots"
)

CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@contextlib.contextmanager
def chromium():
    """Debian's Chromium, headless, driven by Playwright."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


def shot(name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS / f"{name}.png"


def fits(page, name: str) -> None:
    """Nothing sticks out sideways (tables scroll in their own box)."""
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"{name}: the page is wider than the screen"


def host_with_acme(tmp_path, more_config: str = "") -> tuple[int, dict[str, str]]:
    """A free port and the environment of a host whose config uses it (and
    has ``more_config``), with the organization ``acme`` created."""
    port = free_port()
    config = tmp_path / "config.ini"
    config.write_text(
        f"[host]\ndatabase = tb.db\npublic_url = http://127.0.0.1:{port}\n"
        "allow_loopback_destinations = true\n" + more_config
    )
    env = {"TRACKBRIDGE_CONFIG": str(config)}
    run_cli(env, "org", "create", "acme")
    return port, env
