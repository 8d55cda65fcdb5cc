"""Headless Chromium for tests that look at a web page: software WebGL (SwiftShader), driven over the
DevTools protocol so a screenshot is taken once the page has stopped changing, in real time."""

from __future__ import annotations

import asyncio
import base64
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


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def screenshot(url: str, width: int, height: int, settle: float = 2.0, least: float = 8.0,
               timeout: float = 120.0) -> np.ndarray:
    """RGB [height, width, 3] of `url`, taken once `least` seconds have passed and two screenshots
    `settle` seconds apart agree (a page still loading or sorting changes between them), or at `timeout`."""
    return asyncio.run(_screenshot(url, width, height, settle, least, timeout))


async def _screenshot(url, width, height, settle, least, timeout):
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
            await call("Page.navigate", url=url)
            start, previous = time.monotonic(), None
            while True:
                await asyncio.sleep(settle)
                data = (await call("Page.captureScreenshot", format="png"))["data"]
                image = cv2.imdecode(np.frombuffer(base64.b64decode(data), np.uint8), cv2.IMREAD_COLOR)[..., ::-1]
                waited = time.monotonic() - start
                steady = previous is not None and np.abs(image.astype(int) - previous).mean() < 0.5
                if (waited >= least and steady) or waited > timeout:
                    return image
                previous = image.astype(int)
    finally:
        browser.terminate()
        browser.wait()
        shutil.rmtree(profile, ignore_errors=True)
