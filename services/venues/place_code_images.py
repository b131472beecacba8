"""The images a place code is handed out as (B2): the bare QR (PNG, SVG) and the printable poster.

The QR holds whatever text the caller gives (the place code URL with its unguessable token); this
module only draws. The poster is A4 portrait at 150 dpi (1240x1754 px): a title band, the place
name, its type and address, a large QR, how to scan, and the date it was made. All of its text is
Simplified Chinese, drawn with the font from services.common.fonts; without one, the poster functions
raise ApiError font_missing (503). The bare QR needs no font.

Drawing is CPU work (about a tenth of a second for a poster): call it from an executor, not on
the IOLoop.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import re
import tempfile
import zipfile
from collections import deque
from typing import Iterable, Sequence

from PIL import PdfParser

from services.common.fonts import cjk_font, draw_lock, load_font
from services.common.timefmt import china_today

# A4 at 150 dpi: 210 x 297 mm.
POSTER_SIZE = (1240, 1754)
POSTER_DPI = 150
TITLE = "扫码登记 · 健康通行"
DEFAULT_INSTRUCTIONS = (
    "1. 使用微信或支付宝扫描二维码",
    "2. 首次扫码请如实填写个人信息",
    "3. 出示登记结果，绿码通行",
)
_WHAT = "场所码海报"

_MARGIN = 90
_BAND_HEIGHT = 180
_GREEN = (22, 128, 74)
_PALE_GREEN = (226, 243, 233)
_INK = (26, 26, 26)
_GREY = (85, 85, 85)
_LIGHT_GREY = (130, 130, 130)
# The QR takes the height the texts leave, quiet zone included, up to _QR_MAX. The texts are capped
# in lines (name 3, address 3, instructions _MAX_STEP_LINES) so that at least about 780 px are left.
_QR_MAX = 960
_MAX_STEP_LINES = 4
_QR_BORDER = 4
# Longer input cannot show anyway (lines are capped); cutting it first bounds the wrapping work.
_MAX_TEXT_CHARS = 1000

# Chinese line-breaking rules: these never start a line / never end one.
_NO_LINE_START = set("，。、；：？！）」』】》〉”’…·%,.;:?!)]}")
_NO_LINE_END = set("（「『【《〈“‘([{")
# Latin words and numbers (a house number, a brand) are not broken between lines.
_PIECE_RE = re.compile(r"[A-Za-z0-9@#&'._/+\-]+|\s+|.", re.S)


# --- the bare QR --------------------------------------------------------------------------------

def _qr(text: str, box_size: int, border: int = _QR_BORDER, image_factory=None):
    import qrcode
    from qrcode.constants import ERROR_CORRECT_M

    # M survives a scuffed or partly covered print (15% of the modules) at a moderate size.
    qr = qrcode.QRCode(error_correction=ERROR_CORRECT_M, box_size=box_size, border=border,
                       image_factory=image_factory)
    qr.add_data(text)
    qr.make(fit=True)
    return qr


def qr_png(text: str, box_size: int = 10) -> bytes:
    """A black-on-white PNG QR of `text`, `box_size` pixels per module, 4-module quiet zone."""
    if not isinstance(box_size, int) or not 1 <= box_size <= 50:
        raise ValueError("box_size must be an integer from 1 to 50")
    image = _qr(text, box_size).make_image(fill_color="black", back_color="white")
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def qr_svg(text: str) -> bytes:
    """A standalone SVG document (UTF-8, XML declaration) of the QR of `text`: one path, one unit
    per module, white background."""
    from qrcode.image.svg import SvgPathFillImage

    # The filled variant of SvgPathImage: a transparent QR vanishes on a dark page or viewer.
    image = _qr(text, 10, image_factory=SvgPathFillImage).make_image()
    out = io.BytesIO()
    image.save(out)
    return out.getvalue()


# --- the poster ---------------------------------------------------------------------------------

def poster_png(*, text: str, place_name: str, type_label: str, address: str | None,
               region_name: str | None = None, instructions: Sequence[str] | str | None = None,
               printed_on: dt.date | None = None) -> bytes:
    """The A4 poster (1240x1754 PNG) of a place code whose QR holds `text`.

    `region_name` is printed before the address unless the address already starts with it.
    `instructions`: lines to print under the QR (default DEFAULT_INSTRUCTIONS; a string is split
    into lines; empty prints none; four printed lines at most). `printed_on`: the footer date
    (default: today in China). Long texts wrap, and are cut with "…" past a few lines (name and
    address three, type one) so that the QR keeps its size.
    """
    image = _poster(text=text, place_name=place_name, type_label=type_label, address=address,
                    region_name=region_name, instructions=instructions, printed_on=printed_on)
    out = io.BytesIO()
    image.save(out, format="PNG", dpi=(POSTER_DPI, POSTER_DPI))
    return out.getvalue()


def poster_pdf(*, text: str, place_name: str, type_label: str, address: str | None,
               region_name: str | None = None, instructions: Sequence[str] | str | None = None,
               printed_on: dt.date | None = None) -> bytes:
    """The same poster as `poster_png`, as a one-page PDF that prints at A4."""
    image = _poster(text=text, place_name=place_name, type_label=type_label, address=address,
                    region_name=region_name, instructions=instructions, printed_on=printed_on)
    out = io.BytesIO()
    # Pillow embeds the page as a JPEG: high quality and no chroma subsampling keep the QR edges
    # and the thin strokes of small characters clean.
    image.save(out, format="PDF", resolution=POSTER_DPI, quality=92, subsampling=0, title="场所码")
    return out.getvalue()


def posters_pdf(posters: Iterable[dict], watermark: str | None = None) -> bytes:
    """Many posters (each a dict of `poster_pdf`'s arguments) as one PDF, a page each, to print a
    batch of blank codes. Pages are appended to a temporary file one at a time, so memory holds one
    page, not the batch. `watermark` (who exported it, when, why) is the document's subject (set
    on every page's save, as each rewrites the document's information): the posters themselves
    are put up in public."""
    subject = {"subject": _PdfText(watermark)} if watermark else {}
    handle, path = tempfile.mkstemp(suffix=".pdf", prefix="posters-")
    os.close(handle)
    try:
        for number, poster in enumerate(posters):
            image = _poster(**{"region_name": None, "instructions": None, "printed_on": None, **poster})
            image.save(path, format="PDF", resolution=POSTER_DPI, quality=92, subsampling=0, title="场所码",
                       append=number > 0, **subject)
        with open(path, "rb") as result:
            return result.read()
    finally:
        os.remove(path)


class _PdfText:
    """A PDF text string with every line-break, backslash and bracket byte escaped. Pillow writes
    a text's UTF-16 bytes unescaped, and a reader turns a carriage-return byte into a line feed
    (名, U+540D, would read 吊)."""

    def __init__(self, text: str):
        self.raw = PdfParser.encode_text(text)

    def __bytes__(self) -> bytes:
        return b"(" + b"".join(b"\\%03o" % b if b in b"\r\n\\()" else bytes([b]) for b in self.raw) + b")"


WATERMARK_FILE = "导出说明.txt"


def qr_zip(codes: Iterable[tuple[str, str]], watermark: str | None = None) -> bytes:
    """A ZIP of bare QR PNGs: (file name without .png, text) each. `watermark` (who exported it,
    when, why) is the archive's comment and its first file, WATERMARK_FILE."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as archive:  # PNGs are compressed already
        if watermark:
            archive.comment = watermark.encode("utf-8")[:65535]
            archive.writestr(WATERMARK_FILE, watermark + "\n")
        for name, text in codes:
            archive.writestr(f"{name}.png", qr_png(text))
    return out.getvalue()


def _poster(*, text, place_name, type_label, address, region_name, instructions, printed_on):
    # Before drawing anything: a server without the font answers font_missing straight away.
    cjk_font(_WHAT)
    lines = _instruction_lines(instructions)
    with draw_lock:
        return _draw_poster(text, _clean(place_name), _clean(type_label),
                            _full_address(_clean(region_name), _clean(address)), lines,
                            printed_on or china_today())


def _full_address(region_name: str, address: str) -> str:
    # Addresses are often typed in full already: do not print the region twice.
    if region_name and not address.startswith(region_name):
        return f"{region_name} {address}".strip()
    return address


def _instruction_lines(instructions) -> list[str]:
    if instructions is None:
        return list(DEFAULT_INSTRUCTIONS)
    if isinstance(instructions, str):
        instructions = instructions.splitlines()
    return [line for line in (_clean(i) for i in instructions) if line]


def _clean(value) -> str:
    # Newlines and tabs from a form would otherwise be drawn as boxes.
    return re.sub(r"\s+", " ", str(value or "")).strip()[:_MAX_TEXT_CHARS]


def _draw_poster(text: str, place_name: str, type_label: str, address: str,
                 instructions: list[str], printed_on: dt.date):
    from PIL import Image, ImageDraw

    width, height = POSTER_SIZE
    content = width - 2 * _MARGIN
    image = Image.new("RGB", POSTER_SIZE, "white")
    draw = ImageDraw.Draw(image)

    # Title band.
    draw.rectangle((0, 0, width - 1, _BAND_HEIGHT - 1), fill=_GREEN)
    title_font = load_font(76, _WHAT)
    draw.text((width // 2, _BAND_HEIGHT // 2), TITLE, font=title_font, fill="white", anchor="mm",
              stroke_width=1, stroke_fill="white")

    # Place name: as large as lets it fit in two lines, else three smaller lines and "…".
    y = _BAND_HEIGHT + 56
    for size in (72, 64, 56, 48):
        name_font = load_font(size, _WHAT)
        name_lines, cut = _wrap(place_name, name_font, content, 3 if size == 48 else 2)
        if not cut:
            break
    for line in name_lines:
        # A one-pixel stroke in the same colour: the font has no bold face.
        draw.text((width // 2, y), line, font=name_font, fill=_INK, anchor="mt",
                  stroke_width=1, stroke_fill=_INK)
        y += round(name_font.size * 1.3)

    # Type label in a pill.
    if type_label:
        y += 12
        label_font = load_font(34, _WHAT)
        label = _wrap(type_label, label_font, content - 60, 1)[0][0]
        label_width = label_font.getlength(label)
        left = (width - label_width) / 2 - 30
        draw.rounded_rectangle((left, y, left + label_width + 60, y + 58), radius=29, fill=_PALE_GREEN)
        draw.text((width // 2, y + 29), label, font=label_font, fill=_GREEN, anchor="mm")
        y += 58 + 16

    if address:
        address_font = load_font(32, _WHAT)
        for line in _wrap(f"地址：{address}", address_font, content, 3)[0]:
            draw.text((width // 2, y), line, font=address_font, fill=_GREY, anchor="mt")
            y += 44

    # Bottom up: footer, then the instructions, then the QR in the space left between.
    footer_font = load_font(24, _WHAT)
    footer_y = height - 56
    draw.text((width // 2, footer_y), f"生成日期：{printed_on.year}年{printed_on.month}月{printed_on.day}日"
              "　请张贴于入口醒目位置，勿遮挡、涂改", font=footer_font, fill=_LIGHT_GREY, anchor="mt")

    steps_font = load_font(36, _WHAT)
    steps_line = 54
    steps = []
    for instruction in instructions:
        steps += _wrap(instruction, steps_font, content, 2)[0]
    steps = steps[:_MAX_STEP_LINES]
    steps_top = footer_y - 40 - steps_line * len(steps)
    if steps:
        steps_left = (width - max(steps_font.getlength(s) for s in steps)) / 2
        for number, line in enumerate(steps):
            draw.text((steps_left, steps_top + number * steps_line), line, font=steps_font, fill=_INK)

    qr_area_top, qr_area_bottom = y + 10, steps_top - 10
    qr = _qr_image(text, min(_QR_MAX, qr_area_bottom - qr_area_top, content))
    qr_top = qr_area_top + max(0, (qr_area_bottom - qr_area_top - qr.height) // 2)
    image.paste(qr, ((width - qr.width) // 2, qr_top))
    return image


def _qr_image(text: str, target: int):
    """The QR (quiet zone included) at most `target` pixels wide, in whole pixels per module."""
    qr = _qr(text, 1)
    modules = qr.modules_count + 2 * _QR_BORDER
    # Whole pixels per module keep the edges sharp; at least 3 so that a phone camera reads it.
    qr.box_size = max(3, target // modules)
    return qr.make_image(fill_color="black", back_color="white").get_image().convert("RGB")


def _pieces(text: str) -> list[str]:
    """Unbreakable pieces: single CJK characters, whole Latin words, spaces; punctuation kept
    with its neighbour so that no line starts with "，" or ends with "（"."""
    pieces: list[str] = []
    for match in _PIECE_RE.finditer(text):
        piece = match.group()
        if pieces and (piece[0] in _NO_LINE_START or pieces[-1][-1] in _NO_LINE_END) \
                and not piece.isspace():
            pieces[-1] += piece
        else:
            pieces.append(piece)
    return pieces


def _wrap(text: str, font, width: float, max_lines: int) -> tuple[list[str], bool]:
    """`text` in lines of at most `width` pixels, and whether it was cut: past `max_lines`, the
    last line kept ends with "…"."""
    lines: list[str] = []
    line = ""
    queue = deque(_pieces(text))
    while queue and len(lines) <= max_lines:
        piece = queue.popleft()
        if len(piece) > 1 and font.getlength(piece.strip()) > width:
            # A piece wider than a whole line (a very long word or number): cut it anywhere.
            queue.extendleft(reversed(piece))
        elif not line or font.getlength(line + piece) <= width:
            line = (line + piece).lstrip()
        else:
            lines.append(line.rstrip())
            line = piece.lstrip()
    if line:
        lines.append(line.rstrip())
    if len(lines) <= max_lines:
        return lines, False
    lines = lines[:max_lines]
    last = lines[-1]
    while last and font.getlength(last + "…") > width:
        last = last[:-1]
    lines[-1] = last.rstrip() + "…"
    return lines, True
