"""Excel (xlsx) writing for exports: one sheet, a header row, then the rows, streamed.

    data = write_xlsx(["姓名", "备注"], [("王*", "=1+1"), ...], sheet_title="员工情况")

Cells that hold user data must never become formulas. openpyxl stores any text starting with "="
as a formula (and Excel, or a CSV round trip, evaluates "+", "-", "@" too), so every text that
starts with one of `FORMULA_TRIGGERS` is written explicitly as a string cell with Excel's
quote-prefix flag: it is what Excel itself stores when a user types a leading apostrophe, so the
cell shows the text verbatim, stays text when edited, and nothing in the file is a formula.
The text itself is not altered (a visible "'" would corrupt names, phone numbers like "+86...",
remarks like "-5℃").

The workbook is write-only: rows go straight to the file, so memory does not grow with the
number of rows. Generic on purpose: the back office's exports use it too.
"""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from typing import Iterable, Sequence

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
# Excel caps a cell at 32,767 characters; longer text would make a file Excel refuses to open.
MAX_CELL_CHARS = 32767
# Sheet titles: at most 31 characters and none of these.
_TITLE_FORBIDDEN = str.maketrans({c: "_" for c in "[]:*?/\\"})
_PLAIN_TYPES = (int, float, Decimal, bool, dt.date, dt.datetime, dt.time)


def is_formula_like(text: str) -> bool:
    """Whether a spreadsheet could read `text` as a formula."""
    return text.startswith(FORMULA_TRIGGERS)


def _clean(value):
    """The value as a cell holds it: a number, date or None as it is, anything else as text
    without the control characters XML cannot hold (openpyxl would raise on them), cut at
    Excel's limit."""
    if value is None or isinstance(value, _PLAIN_TYPES):
        return value
    return ILLEGAL_CHARACTERS_RE.sub("", str(value))[:MAX_CELL_CHARS]


def _needs_quote(value) -> bool:
    return isinstance(value, str) and is_formula_like(value)


def _cell(sheet, value, bold: bool = False) -> WriteOnlyCell:
    value = _clean(value)
    cell = WriteOnlyCell(sheet, value=value)
    if _needs_quote(value):
        cell.data_type = "s"  # openpyxl made it "f" (a formula) for a leading "="
        cell.quotePrefix = True
    if bold:
        cell.font = Font(bold=True)
    return cell


def _value(sheet, value):
    """A data cell as `sheet.append` takes it most cheaply: the value itself when it needs no
    flag (openpyxl binds it once to a cell it reuses), a cell of its own for formula-like text.
    A cell object in the row costs openpyxl a second binding and a refused one (with its message
    formatted) per cell: a quarter of a 50,000-row file's writing."""
    value = _clean(value)
    return _cell(sheet, value) if _needs_quote(value) else value


def write_xlsx(headers: Sequence[str], rows: Iterable[Sequence], sheet_title: str = "Sheet1",
               widths: Sequence[int] | None = None, watermark: str | None = None) -> bytes:
    """The bytes of an xlsx with one sheet: `headers` in bold, then `rows` (any iterable).

    Numbers, dates and booleans keep their types; everything else is written as text, with
    formula-like text neutralised (see the module docstring). `widths` sets column widths in
    characters (default: from the header's length). `watermark` (who exported it, when, why:
    services/oversight/exports.py) is a first row in italics above the headers.
    """
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=(sheet_title.translate(_TITLE_FORBIDDEN)[:31] or "Sheet1"))
    for index, header in enumerate(headers, start=1):
        width = widths[index - 1] if widths and index <= len(widths) else max(10, 2 * len(str(header)) + 4)
        sheet.column_dimensions[get_column_letter(index)].width = width
    if watermark:
        line = _cell(sheet, watermark)
        line.font = Font(italic=True, color="808080")
        sheet.append([line])
    sheet.append([_cell(sheet, h, bold=True) for h in headers])
    for row in rows:
        sheet.append([_value(sheet, value) for value in row])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
