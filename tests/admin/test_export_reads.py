"""A resource's `export_reads` (the fields its export reads, not every field of its query's models)
leave its export's rows as they were, and its columns need no field it left out, on both
databases."""

import io

import openpyxl
import pytest

import admin.resources  # noqa: F401  (registers the resources)
from admin.site import AdminContext, site
from models import db as database
from models.places import EntryRecord, Place
from services.accounts import admin_auth
from tests.admin.test_residents_and_entries import JINGBA, add

NARROWED = sorted(name for name, resource in site.resources.items() if resource.export_reads)


def _entries() -> None:
    """Residents, one with an isolation status, and entries of every kind the export's columns
    show differently: a temperature taken, a quick check-in (no temperature, its form says so), a
    manual one with neither."""
    binding = add(JINGBA, 1, "王小明")
    other = add(JINGBA, 2, "李四")
    add(JINGBA, 3, "张三", status="pending")  # a resident with an isolation record
    place = Place.get(Place.region == binding.compound)
    rows = [(binding.person, "self", "green", 36.5, "{}"),
            (other.person, "self", "yellow", None, '{"quick_checkin": true, "result": "normal"}'),
            (other.person, "manual", "green", None, "{}")]
    for n, (person, source, colour, temperature, form) in enumerate(rows):
        EntryRecord.create(request_id=f"export-reads-{n:04d}", place=place, person=person, flow="resident",
                           source=source, colour=colour, admitted=colour == "green", verdict='{"long": "answer"}',
                           temperature=temperature, form=form)


class _Statements:
    """Counts the statements sent while it is in effect (a column that reached for a field the
    export left out would load it, one statement a row)."""

    def __init__(self, monkeypatch) -> None:
        self.count = 0
        target = database.db.obj
        original = target.execute_sql

        def counted(*args, **kwargs):
            self.count += 1
            return original(*args, **kwargs)

        monkeypatch.setattr(target, "execute_sql", counted)


def test_the_entries_export_reads_less_than_every_field():
    assert "entries" in NARROWED
    reads = site.get("entries").export_reads
    # The stored answer's JSON, the largest text of a row (`is`: a field's == makes an expression).
    assert not any(field is EntryRecord.verdict for field in reads)


@pytest.mark.parametrize("name", NARROWED)
def test_narrowed_rows_show_what_full_rows_show_and_load_nothing_more(office, monkeypatch, name):
    _entries()
    resource = site.get(name)
    city_admin = admin_auth.find_admin("13810000001")  # every row
    ctx = AdminContext(admin=city_admin, session=None, config=None, compound=None, ip=None)
    query = resource.filtered(ctx, {}).order_by(resource.model._meta.primary_key.desc())
    full = [resource.display(resource.export_fields, row) for row in query]
    assert full, f"{name}: no rows to compare"
    narrowed = list(resource.export_query(ctx, {}))  # what the export process reads
    statements = _Statements(monkeypatch)
    shown = [resource.display(resource.export_fields, row) for row in narrowed]
    assert shown == full
    assert statements.count == 0, f"{name}: its columns read a field that export_reads leaves out"


def test_the_entries_export_file_has_every_row_as_the_list_shows_it(as_admin):
    _entries()
    client = as_admin("compound")
    response = client.export("/admin/r/entries/export")
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    assert [c.value for c in sheet[2]] == ["登记时间", "姓名", "证件号码", "手机号", "场所", "登记来源", "健康码", "体温"]
    rows = [[c.value for c in row] for row in sheet.iter_rows(min_row=3)]
    assert sorted((r[1], r[5], r[6], r[7]) for r in rows) == sorted([
        ("王**", "本人扫码", "绿码", "36.5"), ("李*", "本人扫码", "黄码", "体温正常（快速打卡）"),
        ("李*", "人工录入", "绿码", None)])
    assert all("*" in r[2] and "*" in r[3] for r in rows)  # ID numbers and phones masked
