"""Pieces the resources share: masked columns and exact look-ups through the blind indexes."""

from __future__ import annotations

import datetime as dt
import json
import operator
import re

from admin.site import Column, Search
from models.fields import blind_index
from models.people import Person
from services.accounts import admin_auth
from services.colours import colour
from services.common.errors import ApiError
from services.common.timefmt import china_day_start, local_iso
from services.oversight import audit
from services.people import identity
from services.scanning.scans import QUICK_TEMPERATURE_LABEL

# How an entry record came to be (EntryRecord.source), as the pages name it.
ENTRY_SOURCES = {"self": "本人扫码", "family": "家属代扫", "proxy": "代登记", "inspector": "检测员登记", "manual": "人工录入"}


def masked_name(get, name: str = "name", label: str = "姓名") -> Column:
    """The name of `get(row)` (a person or a row with a name), masked."""
    return Column(name, label, lambda row: identity.mask_name(get(row).name))


def masked_id(get, name: str = "id_number") -> Column:
    return Column(name, "证件号码", lambda row: identity.mask_id_number(get(row).id_number))


def masked_phone(get, label: str = "手机号", name: str = "phone") -> Column:
    return Column(name, label, lambda row: identity.mask_phone(get(row).phone))


def who(admin) -> str:
    """A back-office account as lists show it: its name and role."""
    return f"{admin.name}（{admin_auth.ROLES.get(admin.role, admin.role)}）" if admin else ""


def time_column(name: str, label: str, get=None) -> Column:
    """A time shown China-local to the second; by default the row's attribute `name`."""
    get = get or (lambda row: getattr(row, name))
    return Column(name, label, lambda row: (local_iso(get(row)) or "")[:19].replace("T", " "))


def form_text(row) -> str:
    """An entry's 登记表内容: its form's answers as one line."""
    return "；".join(f"{k}：{v}" for k, v in json.loads(row.form or "{}").items())


def temperature_column() -> Column:
    """An entry's 体温: the value taken, else what was chosen without one (an inspector's 正常, or
    a quick check-in's 默认体温正常, C7), from the entry's form."""
    def text(row) -> str:
        if row.temperature is not None:
            return f"{row.temperature}"
        form = json.loads(row.form or "{}")
        if form.get("quick_checkin"):
            return QUICK_TEMPERATURE_LABEL
        return {"normal": "正常", "fever": "发热"}.get(form.get("result"), "")
    return Column("temperature", "体温", text)


def entry_columns(*, flows: dict, registered: str = "登记时间", source: str = "登记来源", phone: str = "手机号",
                  place: str = "场所", colour_label: str = "健康码", colour_text=None) -> tuple[Column, ...]:
    """The columns of an entry list, in the detail's order (labels as each list names them)."""
    person = operator.attrgetter("person")
    colour_text = colour_text or (lambda code: colour.LABELS.get(code, code))
    return (time_column("registered_at", registered, lambda r: r.created_at), masked_name(person),
            masked_id(person), masked_phone(person, phone), Column("place", place, lambda r: r.place.name),
            Column("flow", "登记类型", lambda r: flows.get(r.flow, r.flow)),
            Column("source", source, lambda r: ENTRY_SOURCES.get(r.source, r.source)),
            Column("colour", colour_label, lambda r: colour_text(r.colour)),
            Column("admitted", "核验结果", lambda r: "允许通行" if r.admitted else "禁止通行"),
            temperature_column(), Column("form", "登记表内容", form_text))


def id_number_search(bidx_column) -> Search:
    """Exact ID number look-up: the blind index of what was typed (nothing is decrypted)."""
    return Search("id_number", "证件号码", lambda q, v: q.where(
        bidx_column == blind_index(identity.normalize_id_number(v), "id_number")))


def name_search() -> Search:
    """Exact name look-up through the person's name index (names are stored encrypted)."""
    return Search("name", "姓名", lambda q, v: q.where(Person.name_is(v)))


def phone_search(bidx_column, label: str = "手机号") -> Search:
    """Exact phone look-up through the blind index."""
    return Search("phone", label, lambda q, v: q.where(bidx_column == blind_index(re.sub(r"\D", "", v)[-11:], "phone")))


def date_from(column, label: str = "开始日期") -> Search:
    return Search("date_from", label, lambda q, v: q.where(column >= china_day_start(_date(v))), kind="date")


def date_to(column, label: str = "结束日期") -> Search:
    return Search("date_to", label, lambda q, v: q.where(column < china_day_start(_date(v) + dt.timedelta(days=1))),
                  kind="date")


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ApiError("invalid_date", "日期应为 YYYY-MM-DD 格式", 400) from None


def log_section(row) -> tuple[str, list]:
    """A detail page's 操作日志: the audit lines about `row`, newest first."""
    lines = [(entry["at"][:19].replace("T", " "), f"{entry['who']}：{entry['action_label']}")
             for entry in audit.about(row)]
    return "操作日志", lines or [("", "无")]
