"""Hostile shared links in Debian chromium on a local server: one sentence, the default
plan, no traceback. Screenshots go to ``test-artifacts/``."""

from __future__ import annotations

import base64
import zlib

import pytest

from tests.browser_support import ARTIFACTS, open_app

pytestmark = pytest.mark.browser

IDLE = ("document.querySelector('[data-testid=\"stApp\"]')"
        ".getAttribute('data-test-script-state') === 'notRunning'")


def test_a_link_nested_200000_deep_opens_the_default_plan_with_one_sentence(server: str) -> None:
    deep = '{"weights":' + "[" * 200_000 + "]" * 200_000 + "}"
    text = base64.urlsafe_b64encode(zlib.compress(deep.encode(), 9)).decode().rstrip("=")
    link = f"{server}/?v=1&set=states&s={text}"
    assert len(link) < 700
    with open_app(server) as (page, _):
        page.goto(link, wait_until="domcontentloaded")
        page.wait_for_selector("path.choroplethlocation", timeout=60_000)
        page.wait_for_function(IDLE, timeout=60_000)
        body = page.locator('[data-testid="stApp"]').inner_text()
        page.screenshot(path=str(ARTIFACTS / "hostile-link.png"))
        assert "Traceback" not in body and "RecursionError" not in body
        assert body.count("This link could not be used in full") == 1
        assert "the settings expand to more than 64,000 bytes" in body
        metric = page.locator('[data-testid="stMetric"]').filter(has_text="Spread-adjusted")
        assert metric.count() >= 1  # the default plan is drawn and solved
