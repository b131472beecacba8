"""Each reason of a colour with its source (D5, D9): which list or record made it, of which
date, and what lifts it. The citizen's health code and the officials' person page show these."""

from __future__ import annotations

import datetime as dt

from services.colours import colour
from services.colours.colour_rules import INPUTS, RuleDataError, load_rules
from services.colours.corrections import describe
from services.common.timefmt import china_today
from services.back_office.residents import STATUSES
from services.risk_data import risk_records
from services.risk_data.risk_areas import RISKS

SOURCES_PER_REASON = 3


def _lifts(hit: dict, lifted_by_release: bool) -> str:
    """What lifts a reason, in the citizen's words."""
    if hit.get("override"):
        return f"人工调整至 {hit['until']} 止，到期后按规则重新计算"
    parts = []
    if hit.get("until"):
        last = dt.date.fromisoformat(hit["until"])
        parts.append(f"{(last + dt.timedelta(days=1)).isoformat()} 起自动解除")
    if lifted_by_release:
        parts.append("或由医务人员开具解除医学观察告知书后解除")
    if not parts:
        parts.append(hit.get("guidance") or "相关记录撤销或结案后解除")
    return "，".join(parts)


def explain(subject: str, hits: list[dict], today: dt.date | None = None) -> list[dict]:
    """The hits of a verdict, each with `sources` (the facts behind it, newest first, at most
    SOURCES_PER_REASON) and `lifts` (what ends it)."""
    today = today or china_today()
    try:
        rules = {rule.code: rule for rule in load_rules()}
    except RuleDataError:
        rules = {}
    explained = []
    for hit in hits:
        rule = rules.get(hit.get("rule"))
        sources = []
        if hit.get("override"):
            # No list, no batch: a fact's keys all the same, which the pages read (`describe`).
            sources = [{"input": colour.OVERRIDE_RULE, "source": "人工调整（经两人审核）", "batch": None,
                        "listed_on": None, "detail": "", "date": hit["since"], "entered_at": None, "withdrawn": False}]
        elif rule is not None:
            rows = rule.matching(today, [subject]).order_by(INPUTS[rule.input].date().desc()).limit(SOURCES_PER_REASON)
            sources = [describe(rule.input, row) for row in rows]
        explained.append({**hit, "sources": sources,
                          "lifts": _lifts(hit, bool(rule and rule.lifted_by_release))})
    return explained


# What set off a colour change (ColourHistory.why), as the pages call it; the parametrised ones
# (a list's kind, a risk level, a status) are named in `why_label`.
WHY_LABELS = {"recompute": "定时重新赋码", "read_after_expiry": "有效期满后重新赋码", "declaration": "健康申报",
              "manual_override": "人工调整", "release_notice": "解除医学观察告知书",
              "release_notice_revoked": "撤销解除医学观察告知书", "risk_area_ended": "风险地区结束",
              "staff_status": "企业上报员工健康状况", "temperature_recorded": "体温登记", "batch_withdrawn": "撤回名单批次",
              "case_closed": "病例结案", "colour_rule_changed": "赋码规则变更", "fever_medicine_bought": "录入购药登记"}
TRAVEL_SOURCES = {"declaration": "健康申报", "checkpoint": "卡口登记", "province_entry": "入省登记"}


def why_label(why: str) -> str:
    """The Chinese name of a colour change's cause (`close_contact_listed` -> 录入密接名单); a cause
    not known here shows as it is stored."""
    if why in WHY_LABELS:
        return WHY_LABELS[why]
    head, _, number = why.partition(" ")  # "release_notice 2026-0001": the notice's number
    if number and head in WHY_LABELS:
        return f"{WHY_LABELS[head]} {number}"
    for suffix, verb in (("_listed", "录入"), ("_withdrawn", "撤回")):
        kind = risk_records.KINDS.get(why.removesuffix(suffix)) if why.endswith(suffix) else None
        if kind is not None:
            return verb + kind.list_label
    for prefix, text, names in (("travel_", "出行登记（{}）", TRAVEL_SOURCES), ("isolation_", "隔离状态：{}", STATUSES),
                                ("risk_area_", "登记{}", RISKS)):
        rest = why.removeprefix(prefix)
        if rest != why and rest in names:
            return text.format(names[rest])
    return why

