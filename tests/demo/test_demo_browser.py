"""The demo page in a real headless Chromium: upload the bundled example, wait for the body.

Needs Debian's ``chromium`` + ``chromium-driver`` and selenium (``scripts/browser_check.sh``
installs them and runs this test); skips with a reason otherwise. Nothing downloads a browser:
selenium is pointed at ``/usr/bin/chromedriver`` and ``/usr/bin/chromium``. With
``LASOR_DEMO_SCREENSHOT=PATH`` the screenshot is also saved there (the README's
``docs/images/demo.png``).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import threading
import time
from pathlib import Path

import pytest

from lasor.demo.server import make_server
from lasor.predict import example_photo

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        CHROMIUM is None or DRIVER is None,
        reason="no chromium + chromedriver (run scripts/browser_check.sh to install them)",
    ),
    pytest.mark.skipif(
        importlib.util.find_spec("selenium") is None, reason="selenium not installed"
    ),
    pytest.mark.skipif(
        importlib.util.find_spec("mediapipe") is None, reason="MediaPipe front end not installed"
    ),
]


def _browser(profile: Path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager must never download anything

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in (
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={profile}", "--window-size=1400,1000",
        # WebGL without a GPU: Chromium's software rasteriser
        "--use-angle=swiftshader", "--enable-unsafe-swiftshader",
    ):  # fmt: skip
        opts.add_argument(flag)
    return webdriver.Chrome(service=Service(executable_path=DRIVER), options=opts)


def test_demo_page_shows_a_result(tmp_path):
    from selenium.webdriver.common.by import By

    srv, app = make_server("127.0.0.1", 0)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    driver = _browser(tmp_path / "profile")
    try:
        driver.get(f"http://127.0.0.1:{srv.server_address[1]}/")
        assert "lasor" in driver.title
        driver.find_element(By.ID, "file").send_keys(str(example_photo()))
        t0 = time.time()
        state = "busy"
        while time.time() - t0 < 240:
            state = driver.execute_script("return window.lasorState")
            if state in ("done", "error"):
                break
            time.sleep(0.5)
        status = driver.find_element(By.ID, "status").text
        assert state == "done", f"page state {state!r}: {status}"
        # the pictures loaded, and the 3D canvas drew something that is not just background
        for img in ("overlay", "side"):
            w = driver.execute_script(f"return document.getElementById('{img}').naturalWidth")
            assert w > 0, img
        time.sleep(1.0)  # a few animation frames
        drawn = driver.execute_script(
            """const c = document.querySelector('#viewer canvas');
               const g = c.getContext('webgl2') || c.getContext('webgl');
               const px = new Uint8Array(c.width * c.height * 4);
               g.readPixels(0, 0, c.width, c.height, g.RGBA, g.UNSIGNED_BYTE, px);
               let n = 0; for (let i = 0; i < px.length; i += 4) if (px[i] < 240) n++;
               return n / (c.width * c.height);"""
        )
        assert drawn > 0.02, f"the 3D view is (almost) empty: {drawn:.3f} of pixels drawn"
        shot = tmp_path / "demo.png"
        driver.save_screenshot(str(shot))
        assert shot.stat().st_size > 10_000
        if os.environ.get("LASOR_DEMO_SCREENSHOT"):
            shutil.copy(shot, os.environ["LASOR_DEMO_SCREENSHOT"])
        glb = driver.find_element(By.ID, "dl-glb").get_attribute("href")
        assert glb.endswith(".glb") and "/api/result/" in glb
    finally:
        driver.quit()
        srv.shutdown()
        srv.server_close()
        app.close()
