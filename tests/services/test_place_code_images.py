"""Tests of services.venues.place_code_images: the bare QR (PNG, SVG) and the printable poster (PNG, PDF)."""

import datetime as dt
import io
import re
import xml.etree.ElementTree as ET

import pytest
import zxingcpp
from PIL import Image, ImageDraw
from PIL.PdfParser import PdfParser

from services.common.errors import ApiError
from services.venues import place_code_images as pci

URL = "https://hc.example.gov.cn/s/Q3vX9_kLm2Pz8RtYw4AbCd"
SVG_NS = "{http://www.w3.org/2000/svg}"
PLACE = {"place_name": "王府井百货大楼", "type_label": "商场超市", "address": "王府井大街255号",
         "region_name": "北京市东城区"}
LONG_NAME = "北京市朝阳区超长名称测试股份有限公司（第一分公司）" * 4 + "Starbucks Coffee Reserve Roastery " * 3
LONG_ADDRESS = "建国路甲88号院SOHO现代城" * 12 + "Building" * 20 + "1234567890" * 8


def decode(image: Image.Image) -> list:
    return zxingcpp.read_barcodes(image)


def symbol_box(result) -> tuple[int, int, int, int]:
    p = result.position
    corners = (p.top_left, p.top_right, p.bottom_left, p.bottom_right)
    return (min(c.x for c in corners), min(c.y for c in corners),
            max(c.x for c in corners), max(c.y for c in corners))


# --- the bare QR --------------------------------------------------------------------------------

def test_qr_png_decodes():
    png = pci.qr_png(URL)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    image = Image.open(io.BytesIO(png))
    [result] = decode(image)
    assert (result.text, result.ec_level) == (URL, "M")
    # 10 px per module and a 4-module quiet zone all round.
    assert image.width == image.height and image.width % 10 == 0
    left, top, right, _ = symbol_box(result)
    assert left >= 40 and top >= 40 and image.width - right >= 40


def test_qr_png_box_size():
    small, large = (Image.open(io.BytesIO(pci.qr_png(URL, box_size=n))) for n in (4, 20))
    assert large.width == 5 * small.width
    assert [r.text for r in decode(small)] == [URL]
    for bad in (0, 51, 2.5, "10"):
        with pytest.raises(ValueError):
            pci.qr_png(URL, box_size=bad)


def test_qr_svg_is_a_standalone_document_of_the_same_qr():
    svg = pci.qr_svg(URL)
    assert svg.startswith(b"<?xml")
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG_NS}svg"
    # One unit per module: the same square as the PNG at 10 px per module.
    side = Image.open(io.BytesIO(pci.qr_png(URL))).width // 10
    assert root.get("viewBox") == f"0 0 {side} {side}"
    assert root.get("width") == f"{side}mm"
    [path] = root.iter(f"{SVG_NS}path")
    data = path.get("d")
    squares = re.findall(r"M(\d+),(\d+)H(\d+)V(\d+)H\1z", data)
    assert squares and len("".join(f"M{a},{b}H{c}V{d}H{a}z" for a, b, c, d in squares)) == len(data)
    assert any(r.get("fill") == "white" for r in root.iter(f"{SVG_NS}rect"))

    # Render the path (unit squares) and scan it.
    scale = 8
    image = Image.new("L", (side * scale, side * scale), 255)
    draw = ImageDraw.Draw(image)
    for x0, y0, x1, y1 in ((int(v) for v in square) for square in squares):
        assert 0 <= x0 < x1 <= side and 0 <= y0 < y1 <= side
        draw.rectangle((x0 * scale, y0 * scale, x1 * scale - 1, y1 * scale - 1), fill=0)
    assert [r.text for r in decode(image)] == [URL]


def test_bare_qr_needs_no_font(no_font):
    assert pci.qr_png(URL) and pci.qr_svg(URL)


# --- the poster ---------------------------------------------------------------------------------

def test_poster_png(drawn):
    png = pci.poster_png(text=URL, **PLACE, printed_on=dt.date(2026, 1, 2))
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    image = Image.open(io.BytesIO(png))
    assert image.size == (1240, 1754)
    assert round(image.info["dpi"][0]) == 150
    [result] = decode(image)
    assert result.text == URL
    left, top, right, bottom = symbol_box(result)
    assert right - left >= 700 and bottom - top >= 700
    assert abs((left + right) / 2 - 620) < 10  # centred

    assert pci.TITLE in drawn
    assert "王府井百货大楼" in drawn
    assert any("商场超市" in t for t in drawn)
    assert any("北京市东城区 王府井大街255号" in t for t in drawn)
    for line in pci.DEFAULT_INSTRUCTIONS:
        assert line in drawn
    assert any("2026年1月2日" in t for t in drawn)
    assert all(not t.isascii() for t in drawn)  # every text is Chinese
    # The name and the type are drawn above the QR, the instructions below it.
    assert drawn.index("王府井百货大楼") < drawn.index(pci.DEFAULT_INSTRUCTIONS[0])
    gray = image.convert("L")
    assert gray.crop((0, 0, 1240, top - 60)).getextrema()[0] < 100
    assert gray.crop((0, bottom + 60, 1240, 1754)).getextrema()[0] < 100


def test_poster_region_not_repeated(drawn):
    pci.poster_png(text=URL, place_name="某超市", type_label="商场超市", address="北京市东城区王府井大街1号",
                   region_name="北京市东城区")
    assert [t for t in drawn if t.startswith("地址：")] == ["地址：北京市东城区王府井大街1号"]


def test_poster_custom_and_no_instructions(drawn):
    pci.poster_png(text=URL, **PLACE, instructions="请出示健康码\n\n请佩戴口罩")
    assert "请出示健康码" in drawn and "请佩戴口罩" in drawn
    assert pci.DEFAULT_INSTRUCTIONS[0] not in drawn
    drawn.clear()
    pci.poster_png(text=URL, place_name="某超市", type_label="", address="", instructions=[])
    assert not any(t.startswith(("1.", "地址")) for t in drawn)


def test_long_texts_wrap_and_keep_the_qr(drawn):
    png = pci.poster_png(text=URL, place_name=LONG_NAME, type_label="餐饮服务·连锁餐厅·" * 10,
                         address=LONG_ADDRESS, region_name="北京市朝阳区",
                         instructions=["很长的使用说明，" * 30] * 6)
    image = Image.open(io.BytesIO(png))
    assert image.size == (1240, 1754)
    [result] = decode(image)
    assert result.text == URL
    left, top, right, bottom = symbol_box(result)
    assert right - left >= 560

    # The name is drawn between the title and the type, wrapped over at most three lines, cut.
    assert drawn[0] == pci.TITLE
    name_lines = drawn[1:next(i for i, t in enumerate(drawn) if "餐饮服务" in t)]
    assert 2 <= len(name_lines) <= 3 and name_lines[-1].endswith("…")
    assert LONG_NAME.replace(" ", "").startswith("".join(name_lines).rstrip("…").replace(" ", ""))
    assert not any(t.startswith(("，", "）")) for t in drawn)
    # Nothing runs into the side margins, and nothing is drawn over the QR's quiet zone.
    gray = image.convert("L")
    assert gray.crop((0, 180, 80, 1754)).getextrema() == (255, 255)
    assert gray.crop((1160, 180, 1240, 1754)).getextrema() == (255, 255)
    module = (right - left) / (Image.open(io.BytesIO(pci.qr_png(URL))).width // 10 - 8)
    ring = gray.crop((round(left - 3.5 * module), round(top - 3.5 * module),
                      round(right + 3.5 * module), round(bottom + 3.5 * module)))
    inner = gray.crop((round(left - 0.5 * module), round(top - 0.5 * module),
                       round(right + 0.5 * module), round(bottom + 0.5 * module)))
    assert ring.histogram()[0] == inner.histogram()[0]  # the black pixels are all in the symbol


def test_long_word_is_cut_not_overflowing(drawn):
    word = "X" * 200
    png = pci.poster_png(text=URL, place_name=word, type_label="场所", address=word)
    gray = Image.open(io.BytesIO(png)).convert("L")
    assert gray.crop((0, 180, 80, 1754)).getextrema() == (255, 255)
    assert gray.crop((1160, 180, 1240, 1754)).getextrema() == (255, 255)
    assert [r.text for r in decode(gray)] == [URL]


def test_poster_pdf():
    pdf = pci.poster_pdf(text=URL, **PLACE)
    assert pdf.startswith(b"%PDF")
    assert len(PdfParser(buf=pdf).pages) == 1
    assert len(re.findall(rb"/Type\s*/Page\b", pdf)) == 1
    # A4 at 150 dpi: 1240 x 1754 px = 595.2 x 841.9 pt.
    [box] = re.findall(rb"/MediaBox \[ ?([\d. ]+?) ?\]", pdf)
    assert [round(float(v)) for v in box.split()] == [0, 0, 595, 842]
    # The page is one JPEG of the poster, and its QR scans.
    page = Image.open(io.BytesIO(pdf[pdf.index(b"\xff\xd8\xff"):]))
    assert page.size == (1240, 1754)
    assert [r.text for r in decode(page)] == [URL]


def test_poster_without_font(no_font):
    for draw in (pci.poster_png, pci.poster_pdf):
        with pytest.raises(ApiError) as info:
            draw(text=URL, **PLACE)
        assert (info.value.code, info.value.status) == ("font_missing", 503)
        assert not info.value.message.isascii()
