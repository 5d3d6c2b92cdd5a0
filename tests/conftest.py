"""Test environment: offline, one thread, headless plots, and a private cache per session.

These variables are set before anything imports `course.api`, whose settings are read at import.
"""

import os
import tempfile
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["OMP_NUM_THREADS"] = "1"
os.environ["MPLBACKEND"] = "Agg"
os.environ.setdefault("COURSE_CACHE", tempfile.mkdtemp(prefix="course-test-cache-"))
for name in [k for k in os.environ if k.startswith("COURSE_") and k != "COURSE_CACHE"]:
    del os.environ[name]

import pytest  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared"
CONTRACT_DIR = SHARED / "course_contract"
REAL_SAMPLE = SHARED / "data" / "cfpb_real_sample.csv"

needs_contract = pytest.mark.skipif(not CONTRACT_DIR.is_dir(), reason=f"{CONTRACT_DIR} absent")
needs_sample = pytest.mark.skipif(not REAL_SAMPLE.is_file(), reason=f"{REAL_SAMPLE} absent")


@pytest.fixture(autouse=True)
def _one_thread():
    import torch

    torch.set_num_threads(1)
    yield


# A real browser for rendered pages: Debian's chromium, driven by Playwright, pages opened from disk.
CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} is absent: install Debian's chromium (apt-get install -y chromium; .ci/run does)")
    playwright = pytest.importorskip("playwright.sync_api", reason="playwright (the driver) is not installed")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.problems = []
    page.dialogs = []
    page.on(
        "console",
        lambda m: page.problems.append(f"console {m.type}: {m.text}") if m.type in ("error", "warning") else None,
    )
    page.on("pageerror", lambda e: page.problems.append(f"pageerror: {e}"))
    page.on("requestfailed", lambda r: page.problems.append(f"request failed: {r.url}"))
    page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))
    yield page
    page.close()
