"""Headless Chromium for tests and benchmarks that look at a web page: software WebGL (SwiftShader),
driven over the DevTools protocol so a screenshot is taken once the page has stopped changing, in real
time, and a page's frame rate can be counted."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request

import cv2
import numpy as np

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")

# the element's box on the page, after scrolling it into view (the page's layout moves as videos load)
_BOX = """(() => {{ const e = document.querySelector({selector}); if (!e) return null;
e.scrollIntoView({{block: "center"}}); const r = e.getBoundingClientRect();
return [r.left + window.scrollX, r.top + window.scrollY, r.width, r.height]; }})()"""

# frames the page's compositor draws per second, counted over {seconds} s of requestAnimationFrame
_FRAME_RATE = """new Promise((done) => {{ let frames = 0; const start = performance.now();
const tick = () => {{ frames += 1; const spent = performance.now() - start;
if (spent < {seconds} * 1000) requestAnimationFrame(tick); else done(frames / (spent / 1000)); }};
requestAnimationFrame(tick); }})"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def screenshot(url: str, width: int, height: int, settle: float = 2.0, least: float = 8.0,
               timeout: float = 120.0, element: str | None = None) -> np.ndarray:
    """RGB [height, width, 3] of `url` in a window of that size (or of the `element` a CSS selector names,
    scrolled into view), taken once `least` seconds have passed and two screenshots `settle` seconds apart
    agree on most pixels (a page still loading or sorting changes all over), or at `timeout`."""
    return asyncio.run(_screenshot(url, width, height, settle, least, timeout, element))


def frame_rate(url: str, width: int, height: int, seconds: float = 10.0) -> float:
    """Frames per second `url` draws in a window of that size, counted once it has settled (as `screenshot`)."""
    return asyncio.run(_frame_rate(url, width, height, seconds))


@contextlib.asynccontextmanager
async def _page(width: int, height: int):
    """A `call(method, **params)` to one page of a fresh headless Chromium of that window size."""
    import websockets

    port, profile = _free_port(), tempfile.mkdtemp()
    browser = subprocess.Popen(
        [CHROMIUM, "--headless=new", "--no-sandbox", "--use-gl=angle", "--use-angle=swiftshader",
         "--enable-unsafe-swiftshader", "--hide-scrollbars", f"--remote-debugging-port={port}",
         f"--user-data-dir={profile}", "about:blank"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                targets = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/json", timeout=2).read())
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        page = next(t for t in targets if t["type"] == "page")
        async with websockets.connect(page["webSocketDebuggerUrl"], max_size=2**28) as socket_:
            calls = 0

            async def call(method, **params):
                nonlocal calls
                calls += 1
                await socket_.send(json.dumps({"id": calls, "method": method, "params": params}))
                while True:
                    message = json.loads(await socket_.recv())
                    if message.get("id") == calls:
                        return message.get("result", {})

            await call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1,
                       mobile=False)
            yield call
    finally:
        browser.terminate()
        browser.wait()
        shutil.rmtree(profile, ignore_errors=True)


async def _settled(call, url, settle, least, timeout, element) -> np.ndarray:
    await call("Page.navigate", url=url)
    start, previous = time.monotonic(), None
    while True:
        await asyncio.sleep(settle)
        clip = {}
        if element is not None:
            box = (await call("Runtime.evaluate", expression=_BOX.format(selector=json.dumps(element)),
                              returnByValue=True))["result"].get("value")
            if box is None:
                if time.monotonic() - start > timeout:
                    raise AssertionError(f"{url} has no element {element}")
                continue
            clip = {"clip": dict(zip(("x", "y", "width", "height"), box), scale=1)}
        data = (await call("Page.captureScreenshot", format="png", **clip))["data"]
        image = cv2.imdecode(np.frombuffer(base64.b64decode(data), np.uint8), cv2.IMREAD_COLOR)[..., ::-1]
        waited = time.monotonic() - start
        # most pixels unchanged: a page that plays people frame by frame still counts as drawn
        steady = previous is not None and np.median(np.abs(image.astype(int) - previous)) < 0.5
        if (waited >= least and steady) or waited > timeout:
            return image
        previous = image.astype(int)


async def _screenshot(url, width, height, settle, least, timeout, element):
    async with _page(width, height) as call:
        return await _settled(call, url, settle, least, timeout, element)


async def _frame_rate(url, width, height, seconds):
    async with _page(width, height) as call:
        await _settled(call, url, 2.0, 8.0, 120.0, None)
        result = await call("Runtime.evaluate", expression=_FRAME_RATE.format(seconds=seconds), awaitPromise=True,
                            returnByValue=True)
        return float(result["result"]["value"])
