"""The browser tests' harness: `clinicmail run` started for real on free ports over a copy of the
sample workspace (SQLite, local SendGrid server in demo mode), and Debian's Chromium driven by
Playwright. Without /usr/bin/chromium the tests skip, except under CI=true, where they fail."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.clinic_config import set_settings
from tests.ports import free_port

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "tests" / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# How long to wait for the app to come up, or for a campaign to be sent, before giving up with
# the app's own log (a ceiling on waiting, not a claim about speed).
STARTUP_LIMIT_S = 120
PASSWORD = "a browser-tested password"
# As many fictional clients as `make run` makes: the phone-layout checks are about pages that
# list this many.
DEMO_CONTACTS = 2000


# The seed of the running clinic's demo simulation (the tests' expectations follow from it).
DEMO_SEED = 7


@dataclass
class RunningClinic:
    url: str
    owner: str
    password: str
    log: Path
    workspace: Path

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    if not CHROMIUM.exists():
        reason = "no /usr/bin/chromium (make test installs Debian's chromium when run as root)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"the browser tests must run in CI: {reason}")
        pytest.skip(reason)
    return CHROMIUM


@pytest.fixture(scope="session")
def browser(chromium_path: Path):
    from playwright.sync_api import expect, sync_playwright

    # A form post may plan, render and check a whole campaign; on a busy machine that takes
    # seconds, so assertions wait up to this long for the page they expect.
    expect.set_options(timeout=30_000)

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(chromium_path), args=CHROMIUM_FLAGS, headless=True
        )
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def clinic(
    tmp_path_factory: pytest.TempPathFactory, chromium_path: Path
) -> Iterator[RunningClinic]:
    """`clinicmail run` on its own ports, over a copy of the sample workspace without quiet
    hours (so a campaign sends whatever the hour), a one-minute schedule proposal, and with 2,000
    demo clients, until the
    session ends. No public_url is set: the links follow the port, as `run --port` makes them."""
    root = tmp_path_factory.mktemp("e2e") / "clinic"
    root.mkdir()
    for folder in ("content", "campaigns", "templates"):
        shutil.copytree(REPO / folder, root / folder)
    port, sendgrid_port = free_port(), free_port()
    shutil.copy(REPO / "clinic.toml", root / "clinic.toml")
    # Several tests send campaigns to the same clients in one session; the weekly limit would
    # skip most of them by the third. The schedule form proposes a time a minute ahead, so a
    # test can schedule a campaign for the proposed slot and watch it go out.
    set_settings(
        root / "clinic.toml",
        "sending",
        quiet_hours='""',
        weekly_cap="50",
        proposal_lead_minutes="1",
    )
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("CLINICMAIL_", "SENDGRID_"))
    }
    environment |= {"CLINICMAIL_WORKSPACE": str(root), "CLINICMAIL_SECRET_KEY": "e2e-secret-key"}
    log = root / "run.log"
    command = [
        str(Path(sys.executable).with_name("clinicmail")),
        "run",
        "--port",
        str(port),
        "--sendgrid-port",
        str(sendgrid_port),
        "--demo-contacts",
        str(DEMO_CONTACTS),
        # The demo simulation seeded: every address has the same simulated fate in every run.
        "--seed",
        str(DEMO_SEED),
    ]
    with log.open("wb") as output:
        process = subprocess.Popen(
            command, cwd=root, env=environment, stdout=output, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    try:
        one_time = _wait_until_up(process, url, log)
        yield _first_sign_in(url, log, root, one_time)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_up(process: subprocess.Popen, url: str, log: Path) -> str:
    deadline = time.monotonic() + STARTUP_LIMIT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"clinicmail run exited with {process.returncode}:\n{log.read_text()}")
        found = re.search(r"one-time password: (\S+)", log.read_text(errors="replace"))
        if found:
            try:
                if httpx.get(f"{url}/login", timeout=2).status_code == 200:
                    return found[1]
            except httpx.HTTPError:
                pass
        time.sleep(0.5)
    pytest.fail(f"clinicmail run did not come up:\n{log.read_text()}")


def _first_sign_in(url: str, log: Path, root: Path, one_time: str) -> RunningClinic:
    """The owner signs in once with the printed one-time password and chooses their own."""
    owner = re.search(r"first owner: (\S+)", log.read_text())[1]
    with httpx.Client(base_url=url, follow_redirects=True) as client:
        token = _csrf(client.get("/login").text)
        page = client.post(
            "/login", data={"email": owner, "password": one_time, "csrf_token": token}
        )
        assert "Change your password" in page.text
        page = client.post(
            "/account/password",
            data={
                "current": one_time,
                "new": PASSWORD,
                "repeat": PASSWORD,
                "csrf_token": _csrf(page.text),
            },
        )
        assert "Your password has been changed" in page.text
    return RunningClinic(url, owner, PASSWORD, log, root)


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html)[1]


@pytest.fixture
def staff_page(browser, clinic: RunningClinic, request: pytest.FixtureRequest):
    """A browser page signed in as the owner; `width` from an indirect parameter (default
    1280 px)."""
    width = getattr(request, "param", 1280)
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    page.goto(f"{clinic.url}/login")
    page.fill("input[name=email]", clinic.owner)
    page.fill("input[name=password]", clinic.password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{clinic.url}/")
    yield page
    context.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


# Each word (a heading like "Sent", a number like "2,269") of the matching cells that is drawn
# on more than one line: broken inside itself.
_BROKEN_WORDS = """(selector) => {
    const broken = [];
    for (const cell of document.querySelectorAll(selector)) {
        const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
        while (walker.nextNode()) {
            const node = walker.currentNode;
            for (const match of node.data.matchAll(/\\S+/g)) {
                const range = document.createRange();
                range.setStart(node, match.index);
                range.setEnd(node, match.index + match[0].length);
                const tops = new Set([...range.getClientRects()].map(r => Math.round(r.top)));
                if (tops.size > 1) broken.push(match[0]);
            }
        }
    }
    return broken;
}"""


def words_broken_across_lines(page, selector: str) -> list[str]:
    """The words of the cells `selector` matches that the page breaks inside themselves."""
    return page.evaluate(_BROKEN_WORDS, selector)
