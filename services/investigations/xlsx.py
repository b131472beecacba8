"""Uploaded workbooks: checked before any parsing, then read row by row in constant memory.

`inspect(path, limits)` refuses what is not a real xlsx (a csv renamed .xlsx, an old .xls, a plain
zip), an encrypted workbook, and zip bombs (the sum of the declared uncompressed sizes and each
part's compression ratio are bounded; zipfile never inflates a part past its declared size, so the
declaration is a real bound). It finds the first worksheet through the workbook's relationships and
reads the sheet's declared used range (`<dimension ref="A1:N2000001"/>`, in its first bytes): too
many rows or columns are refused there, before any row is parsed. A sheet without a dimension
falls back to the row limit while streaming and to the header row's width (importer.open_sheet).

`SheetReader` streams that worksheet's XML through expat in 1 MB pieces and yields
(row number, [cell values]): text, int, float, bool, datetime or None. Memory stays flat whatever
the number of rows; only a shared-string table (which Excel writes, openpyxl does not) is held,
and it grows with the file's distinct texts, not its rows. openpyxl stays the writer (exports,
templates, error reports); reading with it (read-only mode) is about four times slower than this.
"""

from __future__ import annotations

import datetime as dt
import os
import posixpath
import re
import zipfile
import zlib
from dataclasses import dataclass
from typing import Iterator
from xml.parsers import expat

from services.common.errors import ApiError

NOT_XLSX = "不是有效的 Excel（xlsx）文件"
_MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
# Built-in number formats that are dates or times (ECMA-376 18.8.30).
_DATE_FORMAT_IDS = frozenset([*range(14, 23), *range(27, 37), *range(45, 48), *range(50, 59)])
_DATE_CODE_RE = re.compile(r"[dmyhs]", re.I)
_FORMAT_NOISE_RE = re.compile(r'"[^"]*"|\[[^\]]*\]|\\.')
_EXCEL_EPOCH = dt.datetime(1899, 12, 30)
CHUNK = 1 << 20
# The dimension comes before <sheetData>, after at most a <sheetPr>: the first bytes hold it.
_HEAD_BYTES = 64 * 1024
_DIMENSION_RE = re.compile(rb'<(?:\w+:)?dimension\b[^>]*?\bref\s*=\s*["\']([^"\']*)["\']')
_SHEET_DATA_RE = re.compile(rb"<(?:\w+:)?sheetData\b")
_REF_RE = re.compile(r"^\$?([A-Z]{1,3})\$?(\d{1,7})(?::\$?([A-Z]{1,3})\$?(\d{1,7}))?$")


@dataclass(frozen=True)
class Limits:
    """What an upload may be: its size, its inflated size, each part's compression ratio, data
    rows (the header row not counted) and columns."""

    max_bytes: int = 100 * 1024 * 1024
    max_uncompressed: int = 2 * 1024 * 1024 * 1024
    max_ratio: int = 100
    max_rows: int = 1_000_000
    max_columns: int = 200


@dataclass(frozen=True)
class SheetInfo:
    """Where the first worksheet and its helpers are inside the workbook."""

    sheet: str
    shared_strings: str | None
    styles: str | None
    sheet_size: int


def size_text(size: int) -> str:
    """300 KB, 100 MB: a limit as people read it."""
    return f"{size // (1024 * 1024)} MB" if size >= 1024 * 1024 else f"{max(1, size // 1024)} KB"


def refuse(message: str = NOT_XLSX, code: str = "not_xlsx", status: int = 400) -> ApiError:
    return ApiError(code, message, status, "file")


def inspect(path: str, limits: Limits) -> SheetInfo:
    """Check an uploaded file without parsing any of its XML; the first worksheet's location."""
    size = os.path.getsize(path)
    if size == 0:
        raise refuse("文件为空，请选择要上传的 Excel 文件", "empty_file")
    if size > limits.max_bytes:
        raise refuse(f"文件过大（上限 {size_text(limits.max_bytes)}）", "file_too_large", 413)
    with open(path, "rb") as handle:
        head = handle.read(8)
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise refuse("不支持旧版 Excel（xls）文件，请在 Excel 中另存为 xlsx 后上传")
    if not head.startswith(b"PK") or not zipfile.is_zipfile(path):
        raise refuse()
    try:
        with zipfile.ZipFile(path) as archive:
            parts = archive.infolist()
            names = {p.filename for p in parts}
            if "[Content_Types].xml" not in names or "xl/workbook.xml" not in names:
                raise refuse()
            if any(p.flag_bits & 0x1 for p in parts):
                raise refuse("文件已加密，请取消密码保护后上传", "encrypted_file")
            if sum(p.file_size for p in parts) > limits.max_uncompressed:
                raise refuse("文件解压后过大，已拒绝（疑似压缩炸弹）", "zip_bomb")
            for part in parts:
                if part.file_size > (1 << 20) and part.file_size > limits.max_ratio * max(part.compress_size, 1):
                    raise refuse("文件压缩比异常，已拒绝（疑似压缩炸弹）", "zip_bomb")
            sheet = _first_sheet(archive, names)
            _check_dimension(archive, sheet, limits)
            by_name = {p.filename: p for p in parts}
            return SheetInfo(sheet, "xl/sharedStrings.xml" if "xl/sharedStrings.xml" in names else None,
                             "xl/styles.xml" if "xl/styles.xml" in names else None, by_name[sheet].file_size)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError, ValueError, zlib.error):
        raise refuse() from None


def _first_sheet(archive: zipfile.ZipFile, names: set[str]) -> str:
    """The first worksheet in the workbook's order (not necessarily sheet1.xml)."""
    first_rid = None

    def start(name, attrs):
        nonlocal first_rid
        if name == f"{_MAIN_NS} sheet" and first_rid is None:
            first_rid = attrs.get(f"{_REL_NS} id")

    _parse_small(archive, "xl/workbook.xml", start)
    targets = {}

    def rel(name, attrs):
        if name == f"{_PKG_REL_NS} Relationship":
            targets[attrs.get("Id")] = attrs.get("Target", "")

    if "xl/_rels/workbook.xml.rels" in names:
        _parse_small(archive, "xl/_rels/workbook.xml.rels", rel)
    target = targets.get(first_rid) if first_rid else None
    if target:
        path = target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join("xl", target))
        if path in names:
            return path
    if "xl/worksheets/sheet1.xml" in names:
        return "xl/worksheets/sheet1.xml"
    raise refuse("文件中没有工作表", "no_sheet")


def _declared_size(archive: zipfile.ZipFile, sheet: str) -> tuple[int, int] | None:
    """(rows, columns) of the sheet's declared used range, from its first bytes; None when the
    sheet declares none (or an unreadable one) before its data."""
    with archive.open(sheet) as stream:
        head = stream.read(_HEAD_BYTES)
    data_at = _SHEET_DATA_RE.search(head)
    found = _DIMENSION_RE.search(head, 0, data_at.start() if data_at else len(head))
    match = _REF_RE.match(found.group(1).decode("ascii", "replace").strip().upper()) if found else None
    if match is None:
        return None
    first_col, first_row, last_col, last_row = match.groups()
    columns: dict = {}
    start_col = _column_index(first_col, columns)
    end_col = _column_index(last_col or first_col, columns)
    start_row, end_row = int(first_row), int(last_row or first_row)
    return abs(end_row - start_row) + 1, abs(end_col - start_col) + 1


def too_many_columns(columns: int, limit: int) -> ApiError:
    """The refusal of a sheet wider than `limit` columns."""
    return refuse(f"工作表有 {columns:,} 列，超过上限（最多 {limit:,} 列），请删除多余的列后上传", "too_many_columns")


def _check_dimension(archive: zipfile.ZipFile, sheet: str, limits: Limits) -> None:
    """Refuse a sheet whose declared range has more data rows (after the header) or columns
    than `limits` allow."""
    size = _declared_size(archive, sheet)
    if size is None:
        return
    rows, columns = size
    if columns > limits.max_columns:
        raise too_many_columns(columns, limits.max_columns)
    if rows - 1 > limits.max_rows:
        raise refuse(f"工作表有 {rows - 1:,} 行数据，超过上限（最多 {limits.max_rows:,} 行），请拆分文件后上传",
                     "too_many_rows")


def _new_parser(namespaces: bool = False):
    parser = expat.ParserCreate(namespace_separator=" " if namespaces else None)
    parser.buffer_text = True
    parser.buffer_size = 1 << 16

    def no_doctype(*_):
        # Spreadsheet XML never needs one; refusing it rules out entity expansion tricks.
        raise ValueError("DOCTYPE not allowed")

    parser.StartDoctypeDeclHandler = no_doctype
    return parser


def _parse_small(archive: zipfile.ZipFile, member: str, start) -> None:
    if archive.getinfo(member).file_size > 16 * 1024 * 1024:
        raise refuse()
    parser = _new_parser(namespaces=True)
    parser.StartElementHandler = start
    try:
        parser.Parse(archive.read(member), True)
    except expat.ExpatError:
        raise refuse() from None


def _date_styles(archive: zipfile.ZipFile, member: str | None) -> frozenset[str]:
    """The style indexes (the `s` of a cell) whose number format is a date or time."""
    if member is None:
        return frozenset()
    custom: dict[int, str] = {}
    xfs: list[int] = []
    depth = {"cellXfs": False}

    def start(name, attrs):
        local = name.rsplit(" ", 1)[-1]
        if local == "numFmt":
            custom[int(attrs.get("numFmtId", "0"))] = attrs.get("formatCode", "")
        elif local == "cellXfs":
            depth["cellXfs"] = True
        elif local == "xf" and depth["cellXfs"]:
            xfs.append(int(attrs.get("numFmtId", "0")))

    def end(name):
        if name.rsplit(" ", 1)[-1] == "cellXfs":
            depth["cellXfs"] = False

    parser = _new_parser(namespaces=True)
    parser.StartElementHandler, parser.EndElementHandler = start, end
    if archive.getinfo(member).file_size > 16 * 1024 * 1024:
        raise refuse()
    try:
        parser.Parse(archive.read(member), True)
    except (expat.ExpatError, ValueError):
        raise refuse() from None

    def is_date(fmt_id: int) -> bool:
        if fmt_id in custom:
            return bool(_DATE_CODE_RE.search(_FORMAT_NOISE_RE.sub("", custom[fmt_id])))
        return fmt_id in _DATE_FORMAT_IDS

    return frozenset(str(i) for i, fmt in enumerate(xfs) if is_date(fmt))


def _shared_strings(archive: zipfile.ZipFile, member: str | None) -> list[str]:
    """The shared-string table: each <si>'s text (its runs joined, phonetic guides left out)."""
    if member is None:
        return []
    strings: list[str] = []
    parts: list[str] = []
    state = {"in_t": False, "phonetic": 0}

    def start(name, attrs):
        if name == "t" and not state["phonetic"]:
            state["in_t"] = True
        elif name == "rPh":
            state["phonetic"] += 1
        elif name == "si":
            parts.clear()

    def end(name):
        if name == "t":
            state["in_t"] = False
        elif name == "rPh":
            state["phonetic"] -= 1
        elif name == "si":
            strings.append("".join(parts))

    def text(data):
        if state["in_t"]:
            parts.append(data)

    parser = _new_parser()
    parser.StartElementHandler, parser.EndElementHandler, parser.CharacterDataHandler = start, end, text
    try:
        with archive.open(member) as stream:
            while chunk := stream.read(CHUNK):
                parser.Parse(chunk, False)
            parser.Parse(b"", True)
    except (expat.ExpatError, ValueError, zipfile.BadZipFile, EOFError):
        raise refuse() from None
    return strings


def _column_index(letters: str, cache: dict) -> int:
    index = cache.get(letters)
    if index is None:
        index = 0
        for ch in letters:
            index = index * 26 + ord(ch) - 64
        index -= 1
        cache[letters] = index
    return index


class SheetReader:
    """Stream the rows of a workbook's first worksheet (see the module docstring)."""

    def __init__(self, path: str, info: SheetInfo):
        self.path = path
        self.info = info
        self.bytes_done = 0  # uncompressed bytes of the sheet parsed so far: the progress

    def rows(self) -> Iterator[tuple[int, list]]:
        """(Excel row number, values) of every row that has a value, in order."""
        with zipfile.ZipFile(self.path) as archive:
            shared = _shared_strings(archive, self.info.shared_strings)
            date_styles = _date_styles(archive, self.info.styles)
            ready: list[tuple[int, list]] = []
            columns: dict[str, int] = {}
            digits = "0123456789"
            row: list = []
            row_number = 0
            col = -1
            ctype = style = None
            text: list[str] = []
            in_value = False

            def start(name, attrs):
                nonlocal row, row_number, col, ctype, style, in_value
                if name == "c":
                    ref = attrs.get("r")
                    col = _column_index(ref.rstrip(digits), columns) if ref else col + 1
                    ctype = attrs.get("t")
                    style = attrs.get("s")
                    text.clear()
                elif name == "v" or name == "t":
                    in_value = True
                elif name == "row":
                    number = attrs.get("r")
                    row_number = int(number) if number else row_number + 1
                    row = []
                    col = -1

            def end(name):
                nonlocal in_value
                if name == "c":
                    value = _value(ctype, "".join(text), style, shared, date_styles) if text else None
                    if value is not None and value != "":
                        gap = col - len(row)
                        if gap > 0:
                            row.extend([None] * gap)
                        row.append(value)
                elif name == "v" or name == "t":
                    in_value = False
                elif name == "row":
                    if row:
                        ready.append((row_number, row))

            def chars(data):
                if in_value:
                    text.append(data)

            parser = _new_parser()
            parser.StartElementHandler, parser.EndElementHandler, parser.CharacterDataHandler = start, end, chars
            try:
                with archive.open(self.info.sheet) as stream:
                    while True:
                        chunk = stream.read(CHUNK)
                        self.bytes_done += len(chunk)
                        parser.Parse(chunk, not chunk)
                        if ready:
                            yield from ready
                            ready.clear()
                        if not chunk:
                            break
            except (expat.ExpatError, ValueError, zipfile.BadZipFile, EOFError) as exc:
                raise refuse(f"{NOT_XLSX}（工作表内容无法读取）") from exc


def _value(ctype, text: str, style, shared: list[str], date_styles: frozenset[str]):
    if ctype is None or ctype == "n":
        try:
            number = int(text) if text.lstrip("-").isdigit() else float(text)
        except ValueError:
            return text
        if style is not None and style in date_styles:
            return _EXCEL_EPOCH + dt.timedelta(days=float(number))
        return number
    if ctype == "s":
        try:
            return shared[int(text)]
        except (ValueError, IndexError):
            raise ValueError("bad shared string index") from None
    if ctype == "inlineStr" or ctype == "str":
        return text
    if ctype == "b":
        return text == "1"
    if ctype == "d":
        try:
            return dt.datetime.fromisoformat(text)
        except ValueError:
            return text
    return text  # "e": an error such as #N/A, kept as text so the column's check reports it
