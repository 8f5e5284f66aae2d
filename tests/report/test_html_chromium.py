"""The HTML report in a real headless Chromium: hostile text stays text, no script runs.

Needs Debian's ``chromium`` (``apt-get install -y chromium``); skipped without it, except
under CI=true, where its absence is a failure (.ci/run installs it).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from forensics.report import build_report, render

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
]


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if os.environ.get("CI") == "true":
        pytest.fail("Chromium is missing under CI; .ci/run should install Debian's chromium")
    pytest.skip("Chromium not installed; install it with `apt-get install -y chromium`")


def run_chromium(page: Path, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args, page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


@pytest.fixture
def rendered_page(clustered_store, tmp_path: Path) -> Path:
    page = tmp_path / "report.html"
    page.write_text(render(build_report(clustered_store, ring="R001", charts=True), "html"))
    return page


def test_chromium_check_detects_a_script_that_runs(tmp_path):
    # Control: the same payload, unescaped and without CSP, does change the title, so the
    # checks below would see a script that ran.
    page = tmp_path / "control.html"
    page.write_text("<!DOCTYPE html><title>clean</title><script>document.title='pwned'</script>")
    dom = run_chromium(page, tmp_path / "profile-control", "--dump-dom").stdout
    assert "<title>pwned</title>" in dom


def test_chromium_runs_no_script_and_shows_hostile_text_literally(rendered_page, tmp_path):
    dom = run_chromium(rendered_page, tmp_path / "profile-dom", "--dump-dom").stdout
    # The payloads would set the title to 'pwned' or add <script>/<img> elements.
    assert "<title>Distillation ring R001</title>" in dom
    assert "pwned</title>" not in dom
    assert "<script" not in dom.lower()
    assert "<img" not in dom.lower()
    # ... and the text is on the page as text.
    assert "&lt;script&gt;document.title='pwned'&lt;/script&gt; solve step by step" in dom
    assert '"&gt;&lt;img src=x onerror="document.title=\'pwned\'"&gt;' in dom
    assert "Members" in dom and "ring-a5" in dom


def test_chromium_screenshot_of_the_report(rendered_page, tmp_path):
    shot = tmp_path / "report.png"
    run_chromium(
        rendered_page,
        tmp_path / "profile-shot",
        f"--screenshot={shot}",
        "--window-size=1200,1600",
    )
    data = shot.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(data) > 20_000  # a rendered page, not a blank one
