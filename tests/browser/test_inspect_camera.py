"""The inspector page's camera path in headless Chromium, on both databases (N7): Chromium's fake
camera shows a real QR code of a citizen's health code; the page reads it through getUserMedia, a
canvas and jsQR (served from node_modules by our own route), and verifies it.

Its own Chromium (the fake camera is a launch flag), so this module does not use the shared
`browser` fixture: Playwright's sync API cannot run twice at once in one thread.
"""

from __future__ import annotations

import os

import pytest

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, PHONE, REQUIRE_BROWSER, TIMEOUT_MS, chromium_missing_reason, guarded_page
from tests.browser.test_inspect_offline import fresh_code, gate, open_and_bind  # noqa: F401 (gate is a fixture)


def _y4m(path, payload: str) -> None:
    """A one-frame Y4M video of the QR code, for Chromium's fake camera."""
    import qrcode
    from PIL import Image

    qr = qrcode.make(payload, box_size=4, border=4).get_image().convert("L")
    frame = Image.new("L", (640, 480), 255)
    side = min(qr.size[0], 460)
    frame.paste(qr.resize((side, side), Image.NEAREST), ((640 - side) // 2, (480 - side) // 2))
    with open(path, "wb") as out:
        out.write(b"YUV4MPEG2 W640 H480 F10:1 Ip A1:1 C420jpeg\nFRAME\n")
        out.write(frame.tobytes())
        out.write(bytes([128]) * (320 * 240 * 2))  # grey chroma: a black-and-white picture


def test_the_camera_reads_a_code_with_the_decoder(h5, gate, tmp_path):
    from handlers import h5 as h5_handlers
    from playwright.sync_api import sync_playwright

    reason = chromium_missing_reason() or (None if h5_handlers.decoder_url() else
                                           "the QR decoder is not installed (npm ci --omit=dev)")
    if reason:
        if REQUIRE_BROWSER:
            pytest.fail(reason)
        pytest.skip(reason)
    declaration_code, citizen = gate
    video = tmp_path / "camera.y4m"
    _y4m(video, fresh_code(h5, citizen))
    args = CHROMIUM_ARGS + ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
                            f"--use-file-for-fake-video-capture={video}"]
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=args,
                                              env=dict(os.environ))
        try:
            context, page = guarded_page(chromium, h5.base_url, PHONE, failed_loads_ok=True)
            context.set_default_timeout(TIMEOUT_MS * 2)
            open_and_bind(page, h5, declaration_code)
            page.click("#camera-start")
            verdict = page.locator("#verdict:not([hidden])")
            verdict.wait_for()
            assert "在线核验" in verdict.inner_text() and "王**" in verdict.inner_text()
            assert page.input_value("#code-input").startswith("HC1.")
            assert page.locator("#camera-box").is_hidden()  # the camera is off again
            context.close()
            assert not page.problems, page.problems
        finally:
            chromium.close()
