"""The investigation-list import as a service, on both databases (H1, H2): files refused before
parsing, header checks, bad rows reported while every good row is kept, dedupe, the row limit,
dispatch, person matching, the helper-process path, and the checkpoint-scan hook."""

from __future__ import annotations

import io
import zipfile

import openpyxl
import pytest

from config import TestConfig
from models.investigations import KEY_PREFIX, PREFIX_INDEXED, ImportJob, ImportRowError, TaskRecord
from models.regions import Region
from services.accounts import admin_auth
from services.common.errors import ApiError
from services.common.regions import load_tree
from services.investigations import cells, importer, records, sources, xlsx
from services.operations.demo import ZHENGZHOU
from tests.conftest import make_person, row_counts
from tests.fakes import xlsx_files as files


@pytest.fixture
def city(db):
    load_tree(ZHENGZHOU)
    admin, _ = admin_auth.create_admin(None, phone="13810000001", name="市级管理员", role="city",
                                       region_code="410100", send_sms=False)
    return admin


def settings(**limits) -> importer.Settings:
    config = TestConfig(railway_boarding_stations="武汉,汉口")
    return importer.Settings(xlsx.Limits(**limits), ("武汉", "汉口"), config.data_key, False)


def write(tmp_path, content: bytes, name: str = "list.xlsx") -> str:
    path = tmp_path / name
    path.write_bytes(content)
    return str(path)


def do_import(admin, tmp_path, content: bytes, source=sources.TELECOM, category=None, **kwargs) -> ImportJob:
    path = write(tmp_path, content)
    chosen = kwargs.pop("settings", None) or settings()
    info, columns = importer.check_upload(path, source, chosen)
    job = importer.create_job(admin, source, category, "list.xlsx", path, info)
    return importer.run(job.id, path, info, columns, chosen)


# --- refused before parsing ---------------------------------------------------------------------------

@pytest.mark.parametrize("content, code", [
    (files.csv_renamed(), "not_xlsx"),
    (b"", "empty_file"),
    (files.plain_zip(), "not_xlsx"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600, "not_xlsx"),
])
def test_what_is_not_an_xlsx_is_refused_before_parsing(tmp_path, content, code):
    with pytest.raises(ApiError) as refused:
        xlsx.inspect(write(tmp_path, content), xlsx.Limits())
    assert refused.value.code == code and refused.value.status == 400 and refused.value.field == "file"


def test_csv_renamed_says_so(tmp_path):
    with pytest.raises(ApiError) as refused:
        xlsx.inspect(write(tmp_path, files.csv_renamed()), xlsx.Limits())
    assert refused.value.message == "不是有效的 Excel（xlsx）文件"


def test_zip_bomb_and_oversized_files_are_refused(tmp_path):
    bomb = files.zip_bomb(64)
    assert len(bomb) < 1024 * 1024  # 64 MB of zeros in a few hundred KB
    with pytest.raises(ApiError) as refused:
        xlsx.inspect(write(tmp_path, bomb), xlsx.Limits())
    assert refused.value.code == "zip_bomb" and "压缩炸弹" in refused.value.message
    with pytest.raises(ApiError) as refused:
        xlsx.inspect(write(tmp_path, bomb, "b.xlsx"), xlsx.Limits(max_ratio=10_000, max_uncompressed=32 << 20))
    assert refused.value.code == "zip_bomb"
    with pytest.raises(ApiError) as refused:
        xlsx.inspect(write(tmp_path, files.telecom_xlsx(50), "c.xlsx"), xlsx.Limits(max_bytes=1000))
    assert refused.value.status == 413 and "文件过大" in refused.value.message


# --- the reader -----------------------------------------------------------------------------------------

def _handmade(sheet_xml: str, shared: list[str], styles: str | None = None, sheet_path="xl/worksheets/other.xml") -> bytes:
    """A workbook as Excel writes it: shared strings, a sheet not called sheet1, date styles."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml",
                         '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
                         'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
                         '<sheets><sheet name="名单" sheetId="1" r:id="rId7"/></sheets></workbook>')
        archive.writestr("xl/_rels/workbook.xml.rels",
                         '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
                         f'<Relationship Id="rId7" Type="x" Target="{sheet_path[3:]}"/></Relationships>')
        archive.writestr("xl/sharedStrings.xml",
                         '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">' + "".join(
                             f"<si><t>{s}</t></si>" for s in shared[:-1]) +
                         f'<si><r><t>{shared[-1][:1]}</t></r><r><t>{shared[-1][1:]}</t></r><rPh><t>ふり</t></rPh></si></sst>')
        if styles:
            archive.writestr("xl/styles.xml", styles)
        archive.writestr(sheet_path, '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
                                     f"<sheetData>{sheet_xml}</sheetData></worksheet>")
    return out.getvalue()


def test_reader_handles_shared_strings_styles_gaps_and_the_first_sheet(tmp_path):
    styles = ('<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
              '<numFmts><numFmt numFmtId="170" formatCode="yyyy&quot;年&quot;m&quot;月&quot;d&quot;日&quot;"/></numFmts>'
              '<cellXfs><xf numFmtId="0"/><xf numFmtId="170"/><xf numFmtId="14"/></cellXfs></styleSheet>')
    sheet = ('<row r="1"><c r="A1" t="s"><v>0</v></c><c r="C1" t="s"><v>1</v></c></row>'
             '<row r="3"><c r="A3" s="1"><v>43927</v></c><c r="B3" t="b"><v>1</v></c><c r="C3" t="s"><v>2</v></c>'
             '<c r="D3" t="str"><f>A1</f><v>公式</v></c><c r="E3"><v>13007000001</v></c></row>')
    path = write(tmp_path, _handmade(sheet, ["日期", "姓名", "王五"], styles))
    info = xlsx.inspect(path, xlsx.Limits())
    assert info.sheet == "xl/worksheets/other.xml"
    rows = list(xlsx.SheetReader(path, info).rows())
    assert rows[0] == (1, ["日期", None, "姓名"])
    number, values = rows[1]
    assert number == 3 and values[0].date().isoformat() == "2020-04-06"
    assert values[1:] == [True, "王五", "公式", 13007000001]


def test_a_doctype_is_refused(tmp_path):
    sheet = '<row r="1"><c r="A1" t="inlineStr"><is><t>&x;</t></is></c></row>'
    content = _handmade(sheet, ["a"])
    broken = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(content)) as source, zipfile.ZipFile(broken, "w") as target:
        for item in source.infolist():
            data = source.read(item)
            if item.filename.endswith("other.xml"):
                data = b'<!DOCTYPE x [<!ENTITY x "boom">]>' + data
            target.writestr(item, data)
    path = write(tmp_path, broken.getvalue())
    with pytest.raises(ApiError) as refused:
        list(xlsx.SheetReader(path, xlsx.inspect(path, xlsx.Limits())).rows())
    assert refused.value.code == "not_xlsx"


def test_cells_accept_the_common_spellings():
    date = sources.TELECOM.column("date")
    for value in (20200406, "20200406", "2020-04-06", "2020/4/6", "2020年4月6日", 43927):
        assert cells.check(date, value).isoformat() == "2020-04-06"
    with pytest.raises(cells.CellError, match="日期格式不正确"):
        cells.check(date, "昨天")
    number = sources.TELECOM.column("id_number")
    with pytest.raises(cells.CellError, match="文本格式"):
        cells.check(number, 4.10105198001e17)
    with pytest.raises(cells.CellError, match="校验位"):
        cells.check(number, files.bad_id_number(3))
    assert cells.check(sources.TELECOM.column("phone"), 13007000001.0) == "13007000001"
    assert cells.check(sources.OVERSEAS.column("transport"), "航班") == "plane"


# --- header ---------------------------------------------------------------------------------------------

def test_columns_in_another_order_are_found_by_header(city, tmp_path):
    rows = [files.telecom_row(n) for n in range(6)]
    content = files.reordered(files.TELECOM_HEADERS, rows, list(reversed(range(14))))
    job = do_import(city, tmp_path, content)
    assert (job.status, job.good, job.bad, job.inserted) == ("done", 6, 0, 6)
    record = TaskRecord.select().order_by(TaskRecord.id).first()
    assert records.personal_of(record)["id_number"] == files.id_number(0)
    assert records.data_of(record)["station_county"] == files.COUNTIES[0]


def test_a_missing_column_refuses_the_file_naming_it(city, tmp_path):
    before = row_counts()
    content = files.without_column(files.TELECOM_HEADERS, [files.telecom_row(1)], "证件号码")
    with pytest.raises(ApiError) as refused:
        importer.check_upload(write(tmp_path, content), sources.TELECOM, settings())
    assert refused.value.code == "missing_columns" and "证件号码" in refused.value.message
    # 备注 is optional: without it the file is fine.
    importer.check_upload(write(tmp_path, files.without_column(files.TELECOM_HEADERS, [files.telecom_row(1)], "备注"),
                                "b.xlsx"), sources.TELECOM, settings())
    assert row_counts() == before


def test_a_header_without_rows_is_refused(city, tmp_path):
    with pytest.raises(ApiError) as refused:
        importer.check_upload(write(tmp_path, files.workbook_bytes(files.TELECOM_HEADERS, [])), sources.TELECOM,
                              settings())
    assert refused.value.code == "no_rows"
    with pytest.raises(ApiError) as refused:
        importer.check_upload(write(tmp_path, files.workbook_bytes([], []), "e.xlsx"), sources.TELECOM, settings())
    assert refused.value.code == "empty_sheet"


# --- rows -----------------------------------------------------------------------------------------------

def test_bad_rows_are_reported_and_every_good_row_is_kept(city, tmp_path):
    rows = list(files.telecom_rows(100, bad_every=10))
    rows[3][0] = "昨天"  # a bad date
    rows[4][1] = "1300"  # a bad phone
    rows[5][0] = None  # a missing required cell
    job = do_import(city, tmp_path, files.workbook_bytes(files.TELECOM_HEADERS, rows))
    assert (job.status, job.rows, job.good, job.bad, job.inserted) == ("done", 100, 87, 13, 87)
    errors = list(ImportRowError.select().where(ImportRowError.job == job).order_by(ImportRowError.row_number))
    assert [(e.row_number, e.column) for e in errors[:4]] == [(5, "日期"), (6, "手机号码"), (7, "日期"), (11, "证件号码")]
    assert errors[3].reason == "身份证号码校验位错误" and errors[0].reason.startswith("日期格式不正确")
    assert "请填写日期" in errors[2].reason
    good_phones = {r[1] for i, r in enumerate(rows) if i % 10 != 9 and i not in (3, 4, 5)}
    stored = {records.personal_of(r)["phone"] for r in TaskRecord.select()}
    assert stored == {str(p) for p in good_phones}
    report = openpyxl.load_workbook(io.BytesIO(importer.error_report(job)), read_only=True)
    lines = list(report.active.iter_rows(values_only=True))
    assert lines[0] == ("行号", "列", "原因") and lines[1] == (5, "日期", errors[0].reason) and len(lines) == 14


def test_importing_the_same_file_twice_adds_nothing(city, tmp_path):
    content = files.telecom_xlsx(30, bad_every=10)
    first = do_import(city, tmp_path, content)
    second = do_import(city, tmp_path, content)
    assert (first.inserted, second.inserted, second.duplicates, second.good) == (27, 0, 27, 27)
    assert first.file_hash == second.file_hash
    assert TaskRecord.select().count() == 27


def test_more_rows_than_allowed_stops_and_leaves_nothing(city, tmp_path):
    job = do_import(city, tmp_path, files.telecom_xlsx(2500), settings=settings(max_rows=2000))
    assert job.status == "failed" and "行数超过上限" in job.message
    assert TaskRecord.select().count() == 0 and ImportRowError.select().count() == 0


def test_the_helper_process_path_gives_the_same_result(city, tmp_path):
    rows = list(files.telecom_rows(40, bad_every=10))
    tricky = "O'Brien \\ \"引号\" ;--"
    rows[0][13] = tricky  # escaped by the helper when it writes MySQL literals
    chosen = importer.Settings(xlsx.Limits(), (), TestConfig().data_key, True)
    job = do_import(city, tmp_path, files.workbook_bytes(files.TELECOM_HEADERS, rows), settings=chosen)
    assert (job.status, job.good, job.bad, job.inserted) == ("done", 36, 4, 36)
    assert ImportRowError.select().where(ImportRowError.job == job).count() == 4
    first = TaskRecord.select().order_by(TaskRecord.id).first()
    assert records.data_of(first)["remark"] == tricky
    assert records.personal_of(first)["phone"] == "13000000000" and first.district.name == "金水区"
    assert importer.READER_PEAK_KB[job.id] > 0
    again = do_import(city, tmp_path, files.workbook_bytes(files.TELECOM_HEADERS, rows), settings=chosen)
    assert (again.inserted, again.duplicates) == (0, 36)
    limited = importer.Settings(xlsx.Limits(max_rows=10), (), TestConfig().data_key, True)
    job = do_import(city, tmp_path, files.telecom_xlsx(20), settings=limited)
    assert job.status == "failed" and TaskRecord.select().count() == 36


def test_the_helper_process_delivers_its_batches_whatever_else_writes_to_its_stdout(city, tmp_path, monkeypatch):
    """The batches come on a pipe of their own: output of the helper's interpreter (here a
    sitecustomize that prints as it starts, as a chatty library might) cannot spoil them."""
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "sitecustomize.py").write_text("print('hello from sitecustomize')\n")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path / "site"))
    chosen = importer.Settings(xlsx.Limits(), (), TestConfig().data_key, True)
    job = do_import(city, tmp_path, files.telecom_xlsx(30, bad_every=10), settings=chosen)
    assert (job.status, job.good, job.bad, job.inserted) == ("done", 27, 3, 27)
    assert importer.READER_PEAK_KB[job.id] > 0  # it was the helper's work


def test_an_import_stopped_early_ends_its_helper_process(city, tmp_path, monkeypatch):
    """The helper reads ahead of the import thread (a few batches, not the file): when the import
    stops part-way, the helper is ended, and what was written is undone."""
    started = []
    popen = importer.subprocess.Popen

    def remember(*args, **kwargs):
        started.append(popen(*args, **kwargs))
        return started[-1]

    monkeypatch.setattr(importer.subprocess, "Popen", remember)
    calls = []

    def failing_progress(job_id, counts, bytes_done):
        calls.append(bytes_done)
        if len(calls) == 2:
            raise RuntimeError("database went away")

    monkeypatch.setattr(importer, "_write_progress", failing_progress)
    chosen = importer.Settings(xlsx.Limits(), (), TestConfig().data_key, True)
    # More batches (of importer.BATCH rows) than the helper may prepare ahead.
    job = do_import(city, tmp_path, files.telecom_xlsx(importer.BATCH * (importer.READ_AHEAD + 4)), settings=chosen)
    assert job.status == "failed" and TaskRecord.select().count() == 0
    assert len(started) == 1 and started[0].poll() is not None


# --- dispatch and matching ------------------------------------------------------------------------------

def test_telecom_rows_go_to_the_base_station_county(city, tmp_path):
    rows = [files.telecom_row(1, county="金水区"), files.telecom_row(2, county="管城区"),
            files.telecom_row(3, county="高新技术开发区"), files.telecom_row(4, county="")]
    rows[3][3] = "郑州市"  # neither a base-station county nor an inflow county: the city queue
    elsewhere = files.telecom_row(5, county="禹州市")
    elsewhere[11] = "许昌市"  # a base station in another city: the inflow county (中牟县) decides
    do_import(city, tmp_path, files.workbook_bytes(files.TELECOM_HEADERS, [*rows, elsewhere]))
    placed = {records.personal_of(r)["phone"]: (r.district.name if r.district else None, r.region.name)
              for r in TaskRecord.select()}
    assert placed == {"13000000001": ("金水区", "金水区"), "13000000002": ("管城回族区", "管城回族区"),
                      "13000000003": ("高新区", "高新区"), "13000000004": (None, "郑州市"),
                      "13000000005": ("中牟县", "中牟县")}


def test_a_telecom_county_that_is_not_the_citys_is_a_bad_row(city, tmp_path):
    """Bad input: an unknown county is reported in the bad-row report and nothing of it is stored;
    the good rows of the same file are kept."""
    before = row_counts()
    rows = [files.telecom_row(1, county="金水区"), files.telecom_row(2, county="桐柏县"),
            files.telecom_row(3, county="蔡阳市"), files.telecom_row(4, county="中牟县")]
    rows[3][3] = "开封县"  # an inflow county that is not Zhengzhou's
    rows[0][2] = "开封市"  # so is this inflow city
    job = do_import(city, tmp_path, files.workbook_bytes(files.TELECOM_HEADERS, rows))
    assert (job.status, job.rows, job.good, job.bad, job.inserted) == ("done", 4, 0, 4, 0)
    errors = [(e.row_number, e.column, e.reason) for e in ImportRowError.select().where(ImportRowError.job == job)
              .order_by(ImportRowError.row_number, ImportRowError.id)]
    assert errors == [(2, "流入市", "流入市“开封市”不是郑州市"),
                      (3, "基站归属区县", "基站归属区县“桐柏县”不是郑州市的区县"),
                      (4, "基站归属区县", "基站归属区县“蔡阳市”不是郑州市的区县"),
                      (5, "流入县", "流入县“开封县”不是郑州市的区县")]
    assert "失败 4 行" in job.message
    assert TaskRecord.select().count() == 0
    after = row_counts()
    assert {k: v for k, v in after.items() if k not in ("ImportJob", "ImportRowError")} == {
        k: v for k, v in before.items() if k not in ("ImportJob", "ImportRowError")}


def test_the_seeds_telecom_list_dispatches_fully_on_the_demo_regions(city, tmp_path):
    """The seed's sample list (002, 通管人员摸排): every row either reaches a district or is a bad row."""
    seed = [("中牟县", "永城市", "永城市"), ("中牟县", "南阳市", "桐柏县"), ("管城回族区", "郑州市", "郑东新区"),
            ("新郑市", "郑州市", "新郑市"), ("郑州市", "郑州市", "蔡阳市"), ("管城回族区", "郑州市", "管城回族区"),
            ("金水区", "郑州市", "管城回族区"), ("惠济区", "郑州市", "高新技术开发区"), ("新郑市", "许昌市", "禹州市"),
            ("中牟县", "", ""), ("惠济区", "溧阳市", "召陵区"), ("金水区", "信阳市", "罗山县"),
            ("郑州市", "郑州市", "金水区"), ("二七区", "郑州市", "二七区"), ("中牟县", "郑州市", "航空港区")]
    rows = []
    for n, (inflow, station_city, county) in enumerate(seed):
        row = files.telecom_row(n, county=county)
        row[3], row[11] = inflow, station_city
        rows.append(row)
    job = do_import(city, tmp_path, files.workbook_bytes(files.TELECOM_HEADERS, rows))
    assert (job.good, job.bad) == (14, 1)  # 蔡阳市 is no county of Zhengzhou
    assert TaskRecord.select().where(TaskRecord.district.is_null()).count() == 0


RAILWAY_HEADERS = ("乘车日期", "车次", "上车站", "下车站", "姓名", "证件号码", "手机号码", "备注")


def test_railway_rows_are_filtered_by_boarding_station_and_spread_evenly(city, tmp_path):
    rows = [("2020-04-06", f"G{n}", "武汉站" if n % 3 else "郑州东站", "郑州东站", f"乘客{n}", files.id_number(n),
             f"139{n:08d}", "") for n in range(24)]
    job = do_import(city, tmp_path, files.workbook_bytes(RAILWAY_HEADERS, rows), source=sources.RAILWAY)
    assert (job.good, job.filtered, job.inserted) == (24, 8, 16)
    per_district = {}
    for record in TaskRecord.select():
        per_district[record.district_id] = per_district.get(record.district_id, 0) + 1
    districts = Region.select().where(Region.level == "district").count()
    assert len(per_district) == districts and max(per_district.values()) - min(per_district.values()) <= 1


POLICE_HEADERS = ("日期", "姓名", "手机号", "身份证", "所属街道办事处", "所属小区")


def test_police_rows_go_to_the_named_compound_and_people_are_matched(city, tmp_path):
    jingba = Region.get(Region.code == "410105001001001")
    person = make_person(7, "刘某", compound=jingba)
    rows = [("2020-02-28", "刘某", "13070000001", person.id_number, "经八路街道", "经八路5号院"),
            ("2020-02-28", "张某", "", files.id_number(8), "", "没有这个小区")]
    do_import(city, tmp_path, files.workbook_bytes(POLICE_HEADERS, rows), source=sources.POLICE_LIST)
    first, second = TaskRecord.select().order_by(TaskRecord.id)
    assert (first.region_id, first.district.name, first.person_id, first.status) == (jingba.id, "金水区", person.id,
                                                                                       "to_verify")
    assert first.subject == person.id_number_bidx
    assert (second.district_id, second.person_id) == (None, None)


@pytest.mark.parametrize("parallel", [False, True], ids=["thread", "helper-process"])
def test_fever_rows_with_an_unknown_district_or_a_bad_id_are_reported_and_not_stored(city, tmp_path, parallel):
    headers = ("就诊日期", "姓名", "证件号码", "手机号码", "就诊医院", "现住地址", "所属区县")
    rows = [("2020-04-06", "甲", files.id_number(1), "13900000001", "省人民医院", "", "金水区"),
            ("2020-04-06", "乙", files.id_number(2), "13900000002", "省人民医院", "", "管城区"),  # short name
            ("2020-04-06", "丙", files.bad_id_number(3), "13900000003", "省人民医院", "", "金水区"),
            ("2020-04-06", "丁", files.id_number(4), "13900000004", "省人民医院", "", "火星区"),
            ("2020-04-06", "戊", files.id_number(5), "13900000005", "省人民医院", "", "")]
    chosen = importer.Settings(xlsx.Limits(), (), TestConfig().data_key, parallel)
    job = do_import(city, tmp_path, files.workbook_bytes(headers, rows), source=sources.FEVER, settings=chosen)
    assert (job.status, job.good, job.bad, job.inserted) == ("done", 3, 2, 3)
    report = [(e.row_number, e.column, e.reason) for e in ImportRowError.select().order_by(ImportRowError.row_number)]
    assert report == [(4, "证件号码", "身份证号码校验位错误"), (5, "所属区县", "所属区县“火星区”不是本市的区县")]
    placed = {records.personal_of(r)["name"]: r.district.name if r.district_id else None
              for r in TaskRecord.select()}
    assert placed == {"甲": "金水区", "乙": "管城回族区", "戊": None}  # 戊: unassigned, the city dispatches it


def test_border_data_needs_its_category(city, tmp_path):
    headers = ("日期", "姓名", "证件号码", "手机号码", "出发地", "航班(车次/车牌)", "现住地址")
    content = files.workbook_bytes(headers, [("2020-03-18", "赵某", "E12345678", "", "韩国", "C888",
                                              "郑州市二七区某路1号")])
    with pytest.raises(ApiError) as refused:
        do_import(city, tmp_path, content, source=sources.BORDER)
    assert refused.value.field == "category"
    job = do_import(city, tmp_path, content, source=sources.BORDER, category="airport")
    record = TaskRecord.get()
    assert (job.inserted, record.category, record.district.name) == (1, "airport", "二七区")


def test_red_and_yellow_checkpoint_scans_feed_the_risk_list_once_a_day(city):
    jingba = Region.get(Region.code == "410105001001001")
    person = make_person(9, "李返郑", compound=jingba)
    green = make_person(10, "王绿码")
    assert records.record_checkpoint_scan(person, "red", None, {"origin_name": "北京市丰台区"}) is True
    assert records.record_checkpoint_scan(person, "red", None, None) is False
    assert records.record_checkpoint_scan(green, "green", None, None) is False
    record = TaskRecord.get()
    assert (record.source, record.category, record.status, record.district.name, record.person_id) == (
        "risk", "scan_red", "pending", "金水区", person.id)
    assert records.data_of(record)["origin"] == "北京市丰台区"
    assert records.personal_of(record)["id_number"] == person.id_number


# --- the blind-index prefixes (MySQL) ------------------------------------------------------------------

def _key_index_parts() -> dict[str, int | None]:
    """Index name -> the characters MySQL indexes (None: the whole column; SQLite: always None)."""
    from models import db as database

    names = [f"task_record_{f.column_name}" for f in PREFIX_INDEXED]
    if not database.is_mysql():
        return {i.name: None for i in database.db.get_indexes("task_record") if i.name in names}
    return {name: part for name, part in database.db.execute_sql(
        "SELECT INDEX_NAME, SUB_PART FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() "
        "AND TABLE_NAME = 'task_record' AND INDEX_NAME IN (%s, %s)", names)}


def test_id_and_phone_lookups_use_a_prefix_index_on_mysql_and_still_find_one_row(city, tmp_path):
    from models import db as database

    expected = KEY_PREFIX if database.is_mysql() else None
    assert _key_index_parts() == {"task_record_subject": expected, "task_record_phone_bidx": expected}
    do_import(city, tmp_path, files.telecom_xlsx(3))
    first = TaskRecord.select().order_by(TaskRecord.id).first()
    # Another record whose hashes share the indexed prefix: an equality search still compares the whole value.
    twin = TaskRecord.get_by_id(first.id + 1)
    TaskRecord.update(subject=first.subject[:KEY_PREFIX] + "0" * (32 - KEY_PREFIX),
                      phone_bidx=first.phone_bidx[:KEY_PREFIX] + "0" * (32 - KEY_PREFIX)).where(
        TaskRecord.id == twin.id).execute()
    assert [r.id for r in TaskRecord.select().where(TaskRecord.subject == first.subject)] == [first.id]
    assert [r.id for r in TaskRecord.select().where(TaskRecord.phone_bidx == first.phone_bidx)] == [first.id]


def test_the_prefix_migration_replaces_whole_column_indexes(city):
    from models import db as database
    from models import schema

    step = next(m for m in schema.MIGRATIONS if m.name == "task key prefixes")
    if database.is_mysql():
        for field in PREFIX_INDEXED:
            name = f"task_record_{field.column_name}"
            database.db.execute_sql(
                f"ALTER TABLE task_record DROP INDEX `{name}`, ADD INDEX `{name}` (`{field.column_name}`)")
        assert set(_key_index_parts().values()) == {None}
    schema._stamp(step.version - 1)
    try:
        assert schema.migrate([step]) == ["task key prefixes"]
        schema._stamp(step.version - 1)
        assert schema.migrate([step]) == ["task key prefixes"]  # a second run changes nothing
    finally:
        schema._stamp(schema.latest_version())
    expected = KEY_PREFIX if database.is_mysql() else None
    assert _key_index_parts() == {"task_record_subject": expected, "task_record_phone_bidx": expected}


@pytest.mark.parametrize("ref, refused", [
    ("A1:E11", None),               # a header and 10 data rows: at the limit
    ("A1:E12", "too_many_rows"),    # 11 data rows
    ("$A$1:$E$11", None),           # absolute references read the same
    ("B3:E13", None),               # 11 rows from row 3: 10 after the header
    ("A1:E1", None),                # only a header
    ("A1", None),                   # a single cell
    ("A1:F2", "too_many_columns"),  # 6 columns
    ("A1:XFD1048576", "too_many_columns"),
    ("not a range", None),          # unreadable: left to the streaming limits
])
def test_the_declared_range_is_checked_against_the_limits(tmp_path, ref, refused):
    path = write(tmp_path, files.with_dimension(files.workbook_bytes(["a", "b"], [[1, 2]]), ref))
    limits = xlsx.Limits(max_rows=10, max_columns=5)
    if refused is None:
        assert xlsx.inspect(path, limits).sheet == "xl/worksheets/sheet1.xml"
    else:
        with pytest.raises(ApiError) as error:
            xlsx.inspect(path, limits)
        assert (error.value.code, error.value.status, error.value.field) == (refused, 400, "file")


def test_a_sheet_whose_compressed_data_is_damaged_is_not_an_xlsx(tmp_path):
    content = bytearray(files.with_dimension(files.telecom_xlsx(50), "A1:N51"))
    part = zipfile.ZipFile(io.BytesIO(bytes(content))).getinfo("xl/worksheets/sheet1.xml")
    start = part.header_offset + 30 + len(part.filename.encode()) + len(part.extra)
    for index in range(start + 5, start + 40):
        content[index] ^= 0x55
    with pytest.raises(ApiError) as error:
        xlsx.inspect(write(tmp_path, bytes(content)), xlsx.Limits())
    assert error.value.code == "not_xlsx"
