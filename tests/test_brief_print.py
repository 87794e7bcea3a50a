"""The one-page brief on paper: chromium prints it (``page.pdf``), poppler rasterizes it
(``pdftoppm``), and on states, metros and counties the map's shapes, its caption and its
legend neither overlap nor get clipped. The pages are kept in test-artifacts/ to look at."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

import optimizer as pf
from optimizer.engine.scenario import region_set_default
from optimizer.report import export as ex
from tests.browser_support import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS

pytestmark = pytest.mark.browser

PRINT_WIDTH_PX = round((8.5 * 25.4 - 2 * 10) / 25.4 * 96)  # a letter page inside 10 mm margins
PAGES = {"states": 1, "metros": 2, "counties": 1}  # metros' long names take a second page

BOXES = """() => {
  const box = e => { const r = e.getBoundingClientRect();
                     return {l: r.left, t: r.top, r: r.right, b: r.bottom}; };
  const one = s => box(document.querySelector(s));
  return {
    map: one('.map'), caption: one('figcaption'), table: one('table'),
    shapes: [...document.querySelectorAll('path.choroplethlocation')].map(box)
              .filter(b => b.r > b.l),
    bar: one('.colorbar .cbfills'),
    ticks: [...document.querySelectorAll('.colorbar .cbaxis text')].map(box),
    title: one('.colorbar .cbtitle'),
  };
}"""


def _inside(inner: dict[str, float], outer: dict[str, float], slack: float = 0.5) -> bool:
    return (inner["l"] >= outer["l"] - slack and inner["r"] <= outer["r"] + slack
            and inner["t"] >= outer["t"] - slack and inner["b"] <= outer["b"] + slack)


def _overlap(a: dict[str, float], b: dict[str, float]) -> bool:
    return a["l"] < b["r"] and b["l"] < a["r"] and a["t"] < b["b"] and b["t"] < a["b"]


@pytest.mark.skipif(shutil.which("pdftoppm") is None,
                    reason="pdftoppm (Debian's poppler-utils, see scripts/setup.sh) is not installed")
@pytest.mark.parametrize("region_set", ["states", "metros", "counties"])
def test_the_printed_brief_keeps_map_caption_and_legend_apart(region_set: str,
                                                              tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    regions = pf.load_regions(region_set)
    plan = pf.Planner(regions).solve(region_set_default(region_set, regions.indicators))
    page_file = tmp_path / "brief.html"
    page_file.write_bytes(ex.to_brief_html(plan, regions.geometry(), title=f"Brief: {region_set}"))
    pdf = tmp_path / "brief.pdf"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": PRINT_WIDTH_PX, "height": 1000})
            page.goto(page_file.as_uri())
            page.wait_for_selector("path.choroplethlocation", timeout=60_000)
            page.emulate_media(media="print")
            boxes: dict[str, Any] = page.evaluate(BOXES)
            page.pdf(path=str(pdf), format="Letter", print_background=True)
        finally:
            browser.close()
    assert len(boxes["shapes"]) >= 0.9 * len(plan.regions)  # (a few islands are sub-pixel)
    for shape in boxes["shapes"]:  # every shape drawn inside the map's box ...
        assert _inside(shape, boxes["map"]), shape
        assert not _overlap(shape, boxes["caption"])  # ... never under the caption
    assert boxes["caption"]["t"] >= boxes["map"]["b"] - 0.5
    assert boxes["table"]["t"] >= boxes["caption"]["b"]
    for part in (boxes["bar"], boxes["title"], *boxes["ticks"]):  # the whole legend shows
        assert _inside(part, boxes["map"]), part
    assert len(boxes["ticks"]) == 5
    for tick in boxes["ticks"]:
        assert not _overlap(tick, boxes["title"]), (tick, boxes["title"])
    ARTIFACTS.mkdir(exist_ok=True)
    stem = ARTIFACTS / f"brief-{region_set}"
    for old in ARTIFACTS.glob(f"brief-{region_set}-*.png"):
        old.unlink()
    subprocess.run(["pdftoppm", "-r", "60", "-png", str(pdf), str(stem)], check=True, timeout=120)
    pages = sorted(ARTIFACTS.glob(f"brief-{region_set}-*.png"))
    assert len(pages) == PAGES[region_set], pages
