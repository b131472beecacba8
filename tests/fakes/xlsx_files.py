"""Workbooks for the import tests and the benchmark: good telecom lists of any size (written
streaming, so a million rows does not need a million rows of memory), and the bad inputs an
upload must survive: a csv renamed .xlsx, a zip bomb, shuffled or missing columns, bad ID numbers,
an empty file, a small file declaring millions of rows or thousands of columns."""

from __future__ import annotations

import io
import random
import re
import zipfile
from typing import Iterable, Iterator, Sequence

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell

from services.people import identity

TELECOM_HEADERS = ("日期", "手机号码", "流入市", "流入县", "归属省", "归属市", "姓名", "证件号码", "证件地址",
                   "最近滞留时间", "最近滞留基站", "基站归属地市", "基站归属区县", "备注")
# Base-station counties: Zhengzhou's demo districts, all dispatched (a county that is not the
# city's is a bad row: the tests that need one write it).
COUNTIES = ("金水区", "二七区", "中原区", "管城回族区", "惠济区", "郑东新区", "上街区", "中牟县", "高新技术开发区")
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"


def id_number(n: int, birth: str = "19800101", region: str = "410105") -> str:
    """A valid ID number, different for each n < 1000 (with the birth date varied beyond)."""
    year = 1950 + (n // 1000) % 60
    first17 = f"{region}{year}{birth[4:]}{n % 1000:03d}"
    return first17 + identity.id_check_digit(first17)


def bad_id_number(n: int) -> str:
    """An ID number whose check digit is wrong."""
    good = id_number(n)
    wrong = "0" if good[-1] != "0" else "1"
    return good[:-1] + wrong


def telecom_row(n: int, *, bad_id: bool = False, county: str | None = None) -> list:
    """Row n of a telecom roaming list, as a telecom company's export has it (dates as numbers,
    phones as numbers, times as text)."""
    rnd = random.Random(n)
    county = COUNTIES[n % len(COUNTIES)] if county is None else county
    name = SURNAMES[n % len(SURNAMES)] + "某" + "一二三四五六七八九十"[n % 10]
    number = bad_id_number(n) if bad_id else id_number(n)
    return [20200406, 13000000000 + n, "郑州市", "中牟县", "河南", "郑州", name, number, "河南省郑州市",
            f"2020/04/07 {rnd.randint(0, 23):02d}:{rnd.randint(0, 59):02d}:00", f"基站{n % 997}",
            "郑州市", county, ""]


def telecom_rows(count: int, bad_every: int = 0) -> Iterator[list]:
    """`count` rows; with `bad_every` = 10, every tenth row has a bad ID number (10%)."""
    for n in range(count):
        yield telecom_row(n, bad_id=bool(bad_every) and n % bad_every == bad_every - 1)


def workbook_bytes(headers: Sequence[str], rows: Iterable[Sequence]) -> bytes:
    """An xlsx (one sheet) in memory."""
    out = io.BytesIO()
    write_workbook(out, headers, rows)
    return out.getvalue()


class Text(str):
    """A cell that stays text even when it starts with "=" (what a user typing '=... gets)."""


def _cells(sheet, row):
    for value in row:
        if isinstance(value, Text):
            cell = WriteOnlyCell(sheet, value=str(value))
            cell.data_type = "s"
            yield cell
        else:
            yield value


def write_workbook(target, headers: Sequence[str], rows: Iterable[Sequence]) -> None:
    """Write an xlsx to a path or file object, streaming (write-only workbook)."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Sheet1")
    sheet.append(list(headers))
    for row in rows:
        sheet.append(list(_cells(sheet, row)))
    workbook.save(target)


def telecom_xlsx(count: int, bad_every: int = 0) -> bytes:
    return workbook_bytes(TELECOM_HEADERS, telecom_rows(count, bad_every))


def reordered(headers: Sequence[str], rows: Iterable[Sequence], order: Sequence[int]) -> bytes:
    """The same table with its columns in another order."""
    return workbook_bytes([headers[i] for i in order], ([row[i] for i in order] for row in rows))


def without_column(headers: Sequence[str], rows: Iterable[Sequence], header: str) -> bytes:
    index = list(headers).index(header)
    return workbook_bytes([h for i, h in enumerate(headers) if i != index],
                          ([v for i, v in enumerate(row) if i != index] for row in rows))


def csv_renamed() -> bytes:
    """What a user gets by renaming a csv export to .xlsx."""
    lines = [",".join(TELECOM_HEADERS)] + [",".join(str(v) for v in telecom_row(n)) for n in range(3)]
    return ("\n".join(lines) + "\n").encode("utf-8")


def zip_bomb(uncompressed_mb: int = 300) -> bytes:
    """A zip that looks like an xlsx but whose sheet inflates to `uncompressed_mb` of zeros."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        archive.writestr("xl/workbook.xml", '<?xml version="1.0"?><workbook/>')
        chunk = b"0" * (1024 * 1024)
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as member:
            for _ in range(uncompressed_mb):
                member.write(chunk)
    return out.getvalue()


def plain_zip() -> bytes:
    """A zip that is not a workbook at all."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("readme.txt", "hello")
    return out.getvalue()


def with_dimension(content: bytes, ref: str) -> bytes:
    """The same workbook whose first sheet declares the used range `ref` ("A1:XFD2000001"): a
    small file that says it is huge (the write-only writer declares none; this adds one)."""
    source = zipfile.ZipFile(io.BytesIO(content))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for part in source.infolist():
            data = source.read(part.filename)
            if part.filename == "xl/worksheets/sheet1.xml":
                data = re.sub(rb"<dimension[^>]*/>", b"", data)
                data = data.replace(b"<sheetViews>", f'<dimension ref="{ref}"/><sheetViews>'.encode(), 1)
            archive.writestr(part.filename, data)
    return out.getvalue()
