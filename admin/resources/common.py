"""Pieces the resources share: masked columns and exact look-ups through the blind indexes."""

from __future__ import annotations

import datetime as dt
import json
import re

from admin.site import Column, Search
from models.fields import blind_index
from models.people import Person
from services import admin_auth, audit, identity
from services.errors import ApiError
from services.scans import QUICK_TEMPERATURE_LABEL
from services.timefmt import china_day_start, local_iso

# How an entry record came to be (EntryRecord.source), as the pages name it.
ENTRY_SOURCES = {"self": "本人扫码", "family": "家属代扫", "proxy": "代登记", "inspector": "检测员登记", "manual": "人工录入"}


def masked_name(get) -> Column:
    return Column("姓名", lambda row: identity.mask_name(get(row).name))


def masked_id(get) -> Column:
    return Column("证件号码", lambda row: identity.mask_id_number(get(row).id_number))


def masked_phone(get, label: str = "手机号") -> Column:
    return Column(label, lambda row: identity.mask_phone(get(row).phone))


def who(admin) -> str:
    """A back-office account as lists show it: its name and role."""
    return f"{admin.name}（{admin_auth.ROLES.get(admin.role, admin.role)}）" if admin else ""


def time_column(label: str, get) -> Column:
    return Column(label, lambda row: (local_iso(get(row)) or "")[:19].replace("T", " "))


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
    return Column("体温", text)


def id_number_search(bidx_column) -> Search:
    """Exact ID number look-up: the blind index of what was typed (nothing is decrypted)."""
    return Search("证件号码", lambda q, v: q.where(
        bidx_column == blind_index(identity.normalize_id_number(v), "id_number")))


def name_search() -> Search:
    """Exact name look-up through the person's name index (names are stored encrypted)."""
    return Search("姓名", lambda q, v: q.where(Person.name_is(v)))


def phone_search(bidx_column, label: str = "手机号") -> Search:
    """Exact phone look-up through the blind index."""
    return Search(label, lambda q, v: q.where(bidx_column == blind_index(re.sub(r"\D", "", v)[-11:], "phone")))


def date_from(column) -> Search:
    return Search("开始日期", lambda q, v: q.where(column >= china_day_start(_date(v))), kind="date")


def date_to(column) -> Search:
    return Search("结束日期", lambda q, v: q.where(column < china_day_start(_date(v) + dt.timedelta(days=1))),
                  kind="date")


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ApiError("invalid_date", "日期应为 YYYY-MM-DD 格式", 400) from None


def log_section(row) -> tuple[str, list]:
    """A detail page's 操作日志: the audit lines about `row`, newest first."""
    lines = [(entry["at"][:19].replace("T", " "), f"{entry['who']}：{entry['action']}") for entry in audit.about(row)]
    return "操作日志", lines or [("", "无")]
