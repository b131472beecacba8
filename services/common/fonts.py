"""The Chinese font every generated image draws with (paper health codes, place-code posters).

`cjk_font()` picks the first font that exists: a known system font, then whatever fontconfig
lists for Chinese, then the Noto Sans CJK file of the PyPI package `cvttf-NotoSansCJK-Regular`
(so a bare container still works). With none, images cannot be drawn: ApiError font_missing (503).

`load_font(size)` returns a cached Pillow font. The cached fonts are shared between threads, and a
FreeType face must not be used by two threads at once: hold `draw_lock` while drawing with them.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import shutil
import subprocess
import threading

from services.common.errors import ApiError

# Tried in order; the first that exists wins. WenQuanYi first: it is the smallest common package.
SYSTEM_FONTS = (
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJKsc-Regular.otf",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/System/Library/Fonts/PingFang.ttc",
    "C:/Windows/Fonts/msyh.ttc",
)
_PACKAGED_FONT_MODULE = "cvttf_NotoSansCJK_Regular"
_font_choice: tuple[str, int] | None = None
draw_lock = threading.Lock()


def font_missing(what: str = "图片") -> ApiError:
    """The error for a server without a Chinese font; `what` names the image that cannot be made."""
    return ApiError("font_missing", f"服务器缺少中文字体，无法生成{what}", 503)


def _fc_list_fonts() -> list[str]:
    """Font files fontconfig says cover Chinese (empty when fc-list is not installed)."""
    if shutil.which("fc-list") is None:
        return []
    try:
        result = subprocess.run(["fc-list", ":lang=zh", "file"], capture_output=True, text=True,
                                timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return []
    files = [line.split(":")[0].strip() for line in result.stdout.splitlines()]
    return sorted(f for f in files if f)


def _packaged_font() -> str | None:
    """The Noto Sans CJK font shipped by the PyPI package, when it is installed."""
    try:
        spec = importlib.util.find_spec(_PACKAGED_FONT_MODULE)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        for name in sorted(os.listdir(folder)):
            if name.lower().endswith((".otf", ".ttf", ".ttc")):
                return os.path.join(folder, name)
    return None


def _face_index(path: str) -> int:
    """For a font collection, the face meant for Simplified Chinese when there is one."""
    if not path.lower().endswith(".ttc"):
        return 0
    from PIL import ImageFont

    for index in range(12):
        try:
            family = ImageFont.truetype(path, 12, index=index).getname()[0] or ""
        except OSError:
            break
        if family.endswith((" SC", " CN")) or " SC " in family:
            return index
    return 0


def cjk_font(what: str = "图片") -> tuple[str, int]:
    """(path, face index) of a font that draws Chinese; ApiError font_missing (503) if none,
    its message naming `what` (the image that cannot be made)."""
    global _font_choice
    if _font_choice is not None:
        return _font_choice
    candidates = [p for p in SYSTEM_FONTS if os.path.isfile(p)]
    candidates += _fc_list_fonts()
    packaged = _packaged_font()
    if packaged:
        candidates.append(packaged)
    for path in candidates:
        if os.path.isfile(path):
            _font_choice = (path, _face_index(path))
            return _font_choice
    # Not cached: installing a font should work without a restart.
    raise font_missing(what)


@functools.lru_cache(maxsize=32)
def _load_font(path: str, index: int, size: int):
    from PIL import ImageFont

    return ImageFont.truetype(path, size, index=index)


def load_font(size: int, what: str = "图片"):
    """The Chinese font at `size` pixels (a cached Pillow FreeTypeFont); ApiError font_missing
    as in `cjk_font`."""
    path, index = cjk_font(what)
    return _load_font(path, index, int(size))
