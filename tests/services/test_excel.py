"""services.common.excel: a header and rows in, an xlsx out, and no user text ever becomes a formula."""

import datetime as dt
import io
import re
import zipfile

import pytest
from openpyxl import load_workbook

from services.common.excel import FORMULA_TRIGGERS, MAX_CELL_CHARS, is_formula_like, write_xlsx
from services.oversight import exports

DANGEROUS = ["=1+1", "=HYPERLINK(\"http://evil.example\",\"点我\")", "+86 138 0000 0000", "-5℃",
             "@SUM(A1:A2)", "\t=cmd|' /C calc'!A0", "\r=2*3", "=*"]


def _sheet_xml(data: bytes) -> str:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return archive.read("xl/worksheets/sheet1.xml").decode("utf-8")


def test_openpyxl_would_store_a_leading_equals_as_a_formula():
    # Why the module exists: openpyxl's own behaviour with user text.
    from openpyxl import Workbook

    workbook = Workbook()
    workbook.active["A1"] = "=1+1"
    assert workbook.active["A1"].data_type == "f"


def test_formula_like_text_is_kept_verbatim_as_text_and_no_formula_is_written():
    data = write_xlsx(["姓名", "备注"], [(text, text) for text in DANGEROUS], sheet_title="员工情况")
    xml = _sheet_xml(data)
    assert "<f>" not in xml and "<f " not in xml  # no formula element anywhere in the sheet
    sheet = load_workbook(io.BytesIO(data)).active
    assert sheet.title == "员工情况"
    values = [row for row in sheet.iter_rows(min_row=2, values_only=False)]
    assert len(values) == len(DANGEROUS)
    for (name_cell, remark_cell), text in zip(values, DANGEROUS):
        assert name_cell.data_type == "s" and remark_cell.data_type == "s"
        # Not altered: no visible apostrophe added (XML itself reads a CR back as LF).
        assert remark_cell.value == text.replace("\r", "\n")
        assert remark_cell.quotePrefix is True  # Excel's own "typed with a leading '" flag


def test_plain_values_keep_their_types_and_plain_text_has_no_prefix():
    data = write_xlsx(["序号", "姓名", "日期", "体温", "在岗"],
                      [(1, "王*", dt.date(2020, 2, 12), 36.5, True), (2, None, None, None, False)])
    sheet = load_workbook(io.BytesIO(data)).active
    assert [c.value for c in sheet[1]] == ["序号", "姓名", "日期", "体温", "在岗"]
    assert sheet[1][0].font.bold is True
    first = sheet[2]
    assert first[0].value == 1 and first[0].data_type == "n"
    assert first[1].value == "王*" and first[1].quotePrefix is False
    assert first[2].value.date() == dt.date(2020, 2, 12)
    assert first[3].value == 36.5 and first[4].value is True
    assert [c.value for c in sheet[3]][1:4] == [None, None, None]


def test_rows_may_be_a_generator_and_control_characters_and_huge_text_are_tamed():
    rows = ((f"人员{i}", "坏\x00字\x07符", "长" * (MAX_CELL_CHARS + 10)) for i in range(3))
    sheet = load_workbook(io.BytesIO(write_xlsx(["a", "b", "c"], rows))).active
    assert sheet.max_row == 4
    assert sheet["B2"].value == "坏字符"
    assert len(sheet["C2"].value) == MAX_CELL_CHARS


def test_sheet_titles_are_made_valid():
    data = write_xlsx(["a"], [], sheet_title="2020/02/12 [员工]: 情况?*" * 3)
    title = load_workbook(io.BytesIO(data)).active.title
    assert len(title) <= 31 and not re.search(r"[\[\]:*?/\\]", title)


@pytest.mark.parametrize("text", DANGEROUS)
def test_every_trigger_is_recognised(text):
    assert is_formula_like(text)


def test_ordinary_text_is_not_formula_like():
    assert not any(is_formula_like(t) for t in ("王*", "北京市海淀区", "a=b", "1+1", ""))
    assert set(FORMULA_TRIGGERS) == {"=", "+", "-", "@", "\t", "\r"}


def test_a_watermark_is_the_first_row_and_never_a_formula():
    line = exports.watermark("王小明", "=HYPERLINK(\"http://x\") 核查", dt.datetime(2026, 3, 1, 1, 30, tzinfo=dt.timezone.utc))
    assert line == "导出人：王**　导出时间：2026-03-01 09:30（北京时间）　用途：=HYPERLINK(\"http://x\") 核查"
    sheet = load_workbook(io.BytesIO(write_xlsx(["姓名"], [("王*",)], watermark=line))).active
    assert [[c.value for c in row] for row in sheet.iter_rows()] == [[line], ["姓名"], ["王*"]]
    assert sheet["A1"].data_type == "s" and sheet["A2"].font.bold
