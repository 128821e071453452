"""End to end in headless Chromium: `groqstream serve --ui` in a subprocess, in front of a
simulated server in this process (so the test sees every upstream request and how it ended).

Needs Debian's `chromium` + `chromium-driver` and the `selenium` package (`.ci/run` installs
them); skipped with the reason when they are missing. Selenium calls block, so they run in a
thread while this event loop keeps serving the simulated backend.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from groqstream import Client
from groqstream.testing import SimulatedServer

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium (the ui-test extra)")
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.remote.webdriver import WebDriver  # noqa: E402
from selenium.webdriver.remote.webelement import WebElement  # noqa: E402

MODEL = "openai/gpt-oss-20b"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,900",
)
T = TypeVar("T")


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    """Headless Debian Chromium driven by its own chromedriver (never a downloaded browser)."""
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not os.access(p, os.X_OK)]
    if missing:
        pytest.skip(f"no browser to drive: {', '.join(missing)} not installed (chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    with tempfile.TemporaryDirectory(prefix="gs-chromium-") as profile:
        options.add_argument(f"--user-data-dir={profile}")
        driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
        try:
            yield driver
        finally:
            driver.quit()


async def call(fn: Callable[..., T], *args: Any) -> T:
    """Run a blocking selenium call off the event loop."""
    return await asyncio.to_thread(fn, *args)


def by_testid(driver: WebDriver, name: str) -> WebElement:
    return driver.find_element(By.CSS_SELECTOR, f'[data-testid="{name}"]')


def text_of(driver: WebDriver, name: str) -> str:
    return str(by_testid(driver, name).get_property("textContent"))


async def wait_for(driver: WebDriver, name: str, values: set[str], timeout: float = 60.0) -> str:
    """Poll `data-testid=name`'s text until it is one of `values` (AssertionError if never)."""
    deadline = time.monotonic() + timeout
    while True:
        value = await call(text_of, driver, name)
        if value in values:
            return value
        assert time.monotonic() < deadline, f"{name} stayed {value!r}, wanted one of {values}"
        await asyncio.sleep(0.05)


@pytest.fixture
async def sim() -> AsyncIterator[SimulatedServer]:
    async with SimulatedServer(ttft=0.05, tokens_per_second=400.0, output_tokens=60) as s:
        yield s


async def start_page(sim: SimulatedServer) -> tuple[asyncio.subprocess.Process, str]:
    """`groqstream serve --ui --port 0 --base-url <sim>` as a subprocess; its URL."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "groqstream",
        "serve",
        "--ui",
        "--port",
        "0",
        "--base-url",
        sim.base_url,
        "--model",
        MODEL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), timeout=60)
    m = re.search(r"http://127\.0\.0\.1:\d+/", line.decode())
    assert m, f"serve --ui printed no URL: {line!r}"
    return proc, m.group(0)


@pytest.fixture
async def page(sim: SimulatedServer) -> AsyncIterator[str]:
    proc, url = await start_page(sim)
    try:
        yield url
    finally:
        proc.terminate()
        await proc.communicate()


async def open_page(driver: WebDriver, url: str) -> None:
    await call(driver.get, url)
    await wait_for_options(driver)


async def wait_for_options(driver: WebDriver) -> None:
    """The model list is fetched from /api/config when the page loads."""
    deadline = time.monotonic() + 30
    while not await call(lambda: bool(by_testid(driver, "model").get_property("value"))):
        assert time.monotonic() < deadline, "the page never loaded its config"
        await asyncio.sleep(0.05)


async def type_into(driver: WebDriver, name: str, text: str) -> None:
    el = await call(by_testid, driver, name)
    await call(el.clear)
    await call(el.send_keys, text)


async def expected_stream(sim: SimulatedServer, prompt: str, **params: Any) -> tuple[str, str]:
    """The simulator is deterministic per (model, prompt): the text a stream of it gives."""
    async with Client(base_url=sim.base_url) as c:
        s = await c.stream(model=MODEL, prompt=prompt, **params).until_done()
    return s.text, s.reasoning or ""


async def test_prompt_streams_into_the_page(
    browser: WebDriver, page: str, sim: SimulatedServer, tmp_path: Path
) -> None:
    await open_page(browser, page)
    prompt = "Why is the sky blue?"
    await type_into(browser, "prompt", prompt)
    await call((await call(by_testid, browser, "send")).click)
    assert await wait_for(browser, "status", {"done", "error"}) == "done"
    answer = await call(text_of, browser, "answer")
    reasoning = await call(text_of, browser, "reasoning")
    ttft = await call(text_of, browser, "ttft")
    tps = await call(text_of, browser, "tokens-per-s")
    text, expected_reasoning = await expected_stream(sim, prompt)
    assert answer == text and len(text) > 100
    assert reasoning == expected_reasoning and reasoning
    assert float(ttft) > 0 and float(tps) > 0
    assert sim.requests[0].outcome == "completed"
    shot = tmp_path / "ui.png"
    await call(browser.save_screenshot, str(shot))
    assert shot.stat().st_size > 10_000
    if target := os.environ.get("GROQSTREAM_UI_SCREENSHOT"):
        shutil.copyfile(shot, target)


async def test_tool_call_is_shown(browser: WebDriver, page: str) -> None:
    await open_page(browser, page)
    await type_into(browser, "prompt", "Weather in Paris?")
    await call((await call(by_testid, browser, "tools")).click)
    await call((await call(by_testid, browser, "send")).click)
    assert await wait_for(browser, "status", {"done", "error"}) == "done"
    calls = await call(text_of, browser, "tool-calls")
    assert "get_weather" in calls and '"city"' in calls


async def test_stop_cancels_the_upstream_stream(browser: WebDriver, sim: SimulatedServer) -> None:
    sim.output_tokens = 6000  # a long answer: 15 s at 400 tokens/s
    proc, url = await start_page(sim)
    try:
        await open_page(browser, url)
        await type_into(browser, "prompt", "Tell me a long story")
        await type_into(browser, "max-tokens", "6000")
        await call((await call(by_testid, browser, "send")).click)
        assert await wait_for(browser, "status", {"streaming"}) == "streaming"
        deadline = time.monotonic() + 30
        while len(await call(text_of, browser, "answer")) < 50:  # tokens are flowing
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        rec = sim.requests[-1]
        assert rec.outcome == "streaming"
        stop = await call(by_testid, browser, "stop")
        clicked = time.monotonic()
        await call(stop.click)
        while rec.outcome != "client_disconnected":
            assert time.monotonic() - clicked < 10, f"upstream still {rec.outcome!r} after 10 s"
            await asyncio.sleep(0.01)
        assert await wait_for(browser, "status", {"stopped"}) == "stopped"
        assert rec.content_chunks_sent < 6000
    finally:
        proc.terminate()
        await proc.communicate()


async def test_fanout_view_runs_n_prompts_at_concurrency_c(
    browser: WebDriver, page: str, sim: SimulatedServer
) -> None:
    await call(browser.get, page + "fanout")
    await wait_for_options(browser)
    await type_into(browser, "fanout-n", "12")
    await type_into(browser, "fanout-concurrency", "3")
    await call((await call(by_testid, browser, "fanout-run")).click)
    assert await wait_for(browser, "fanout-status", {"done", "error"}) == "done"
    hist = await call(by_testid, browser, "fanout-histogram")
    assert await call(hist.get_attribute, "data-count") == "12"
    assert await call(text_of, browser, "fanout-done") == "12"
    assert "12/12 done" in await call(text_of, browser, "fanout-summary")
    assert sim.stats.streams_peak <= 3
    assert [r.outcome for r in sim.requests] == ["completed"] * 12


async def test_a_refused_request_shows_the_error(browser: WebDriver, page: str) -> None:
    await open_page(browser, page)
    await type_into(browser, "prompt", " ")
    await call((await call(by_testid, browser, "send")).click)
    assert await wait_for(browser, "status", {"done", "error"}) == "error"
    assert "BadRequest" in await call(text_of, browser, "error")
