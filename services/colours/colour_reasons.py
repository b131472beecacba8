"""Each reason of a colour with its source (D5, D9): which list or record made it, of which
date, and what lifts it. The citizen's health code and the officials' person page show these."""

from __future__ import annotations

import datetime as dt

from services.colours import colour
from services.colours.colour_rules import INPUTS, RuleDataError, load_rules
from services.colours.corrections import describe
from services.common.timefmt import china_today

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

