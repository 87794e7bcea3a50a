"""What a plan buys and why a region gets it, as a person reads them in chromium."""

from __future__ import annotations

import pytest

from tests.browser_support import ARTIFACTS, open_app

pytestmark = pytest.mark.browser


def test_the_headline_and_region_detail_speak_in_natural_units(server: str) -> None:
    with open_app(server) as (page, traffic):
        buys = page.get_by_text("Buys +$", exact=False).first
        assert "AI venture funding" in buys.inner_text()
        assert page.get_by_text("Capacity points are a weighted share of these outcomes",
                                exact=False).count() >= 1
        page.get_by_role("tab", name="Region detail").click()
        page.get_by_text("Why it gets what it gets").wait_for(timeout=60_000)
        page.wait_for_function("document.querySelector('[data-testid=\"stApp\"]')"
                               "?.getAttribute('data-test-script-state') === 'notRunning'",
                               timeout=60_000)
        text = page.locator("body").inner_text()
        assert "shadow price" in text and "spread term" in text
        assert "What its dollars buy" in text or "What its dollars buy".lower() in text.lower()
        page.get_by_text("Why it gets what it gets").scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / "region_why.png"), full_page=True)
        assert not traffic.console_errors, traffic.console_errors
