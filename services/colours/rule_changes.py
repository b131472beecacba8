"""Changing the colour rules and the colour scheme from the back office (D3, D4).

The city admin edits a rule's window, conditions, reason or guidance, enables or disables it,
reverts it to its previous version, or chooses the 3- or 4-colour scheme. Every change is checked
first (`colour_rules.check_rule`, what `save_rule` checks), previewed on the current data ("3 人
黄→绿，1 人 绿→红", each rule evaluated set-wise, nothing written), and proposed for a second city
account to approve (`services/colours/approvals.py`). Approving applies it in the approval's transaction:
the rule is saved through `save_rule`, numbered as a new version, audited, and the people the old
or the new rule matches are recomputed.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from dataclasses import dataclass

from models.admin import AdminUser
from models.approvals import ApprovalRequest
from models.colour import ColourRule
from models.rule_versions import ColourRuleVersion
from services.colours import approvals, colour, colour_rules, colour_scheme
from services.colours.colour_rules import INPUTS, SEVERITY, Rule, check_rule
from services.common.errors import ApiError
from services.common.timefmt import china_today
from services.oversight import audit

ROLES = ("city",)
COLOUR_NAMES = {"green": "绿", "yellow": "黄", "orange": "橙", "red": "红"}
RULE_KIND, SCHEME_KIND = "colour_rule", "colour_scheme"
SUBMITTED = "已提交，等待同单位另一账号审批"
# What a person edits, with its label (the colour and the input a rule reads stay as they are).
EDITABLE = {"window_days": "时间窗口", "conditions": "条件", "reason": "赋码原因", "guidance": "解除指引",
            "enabled": "状态"}


def _require_city(admin: AdminUser) -> None:
    if admin.role not in ROLES:
        raise ApiError("forbidden", "只有市级管理员可以修改赋码规则", 403)


def rule_data(row: ColourRule) -> dict:
    """A stored rule as the declaration `save_rule` takes (with `enabled` and `position`)."""
    return {"code": row.code, "colour": row.colour, "input": row.input, "conditions": json.loads(row.conditions),
            "window_days": row.window_days, "reason": row.reason, "guidance": row.guidance,
            "lifted_by_release": bool(row.lifted_by_release), "enabled": bool(row.enabled),
            "position": row.position}


def get_rule(code: str) -> ColourRule:
    """A rule by code, or a 404."""
    row = ColourRule.get_or_none(ColourRule.code == code)
    if row is None:
        raise ApiError("not_found", "规则不存在", 404)
    return row


def rules() -> list[ColourRule]:
    """Every stored rule, in the order they are evaluated."""
    return list(ColourRule.select().order_by(ColourRule.position, ColourRule.id))


def _describe_conditions(data: dict) -> str:
    """"体温 >= 37.3；..." for a rule's conditions (无 when it has none)."""
    fields = INPUTS[data["input"]].fields if data["input"] in INPUTS else {}
    parts = []
    for condition in data.get("conditions") or []:
        label = fields[condition["field"]].label if condition["field"] in fields else condition["field"]
        parts.append(f"{label} {condition['op']} {json.dumps(condition['value'], ensure_ascii=False)}")
    return "；".join(parts) or "无"


def show(data: dict, name: str) -> str:
    """One editable field of a rule as the pages show it."""
    value = data.get(name)
    if name == "window_days":
        return f"{value} 天" if value else "一直有效"
    if name == "conditions":
        return _describe_conditions(data)
    if name == "enabled":
        return "启用" if value else "停用"
    return value or ""


# --- versions ----------------------------------------------------------------------------------

def versions(code: str) -> list[ColourRuleVersion]:
    """A rule's applied versions, newest first."""
    return list(ColourRuleVersion.select().where(ColourRuleVersion.rule_code == code)
                .order_by(ColourRuleVersion.version.desc()))


def current_version(code: str) -> int:
    """The number of the rule's version in force (1 until it was first changed)."""
    latest = ColourRuleVersion.select(ColourRuleVersion.version).where(ColourRuleVersion.rule_code == code).order_by(
        ColourRuleVersion.version.desc()).first()
    return latest.version if latest else 1


def previous_data(code: str) -> tuple[int, dict]:
    """The version before the one in force, to revert to: (its number, its declaration)."""
    found = versions(code)
    if len(found) < 2:
        raise ApiError("no_previous_version", "该规则没有可恢复的上一版本", 409)
    return found[1].version, json.loads(found[1].data)


# --- proposed changes --------------------------------------------------------------------------

def _window(text) -> int | None:
    text = (text or "").strip() if isinstance(text, str) else text
    if text in ("", None):
        return None
    try:
        return int(text)
    except (TypeError, ValueError):
        raise ApiError("invalid_field", "时间窗口应为 1 至 366 的整数天数，或留空表示一直有效", 400, "window_days") from None


def _conditions(text) -> list:
    if isinstance(text, list):
        return text
    try:
        value = json.loads(text or "[]")
    except ValueError as exc:
        raise ApiError("invalid_rule_json", f"条件不是有效的 JSON（第 {exc.lineno} 行第 {exc.colno} 列）", 400,
                       "conditions") from None
    if not isinstance(value, list):
        raise ApiError("invalid_rule_json", "条件应为 JSON 列表，如 [{\"field\": \"value\", \"op\": \">=\", "
                                            "\"value\": 37.3}]", 400, "conditions")
    return value


def edited(row: ColourRule, form: dict) -> dict:
    """The rule as the edit form proposes it: {window_days, conditions (JSON text), reason,
    guidance, enabled}; checked as `save_rule` checks it (a 400 naming the field when wrong)."""
    data = {**rule_data(row), "window_days": _window(form.get("window_days")),
            "conditions": _conditions(form.get("conditions")), "reason": (form.get("reason") or "").strip(),
            "guidance": (form.get("guidance") or "").strip() or None, "enabled": bool(form.get("enabled"))}
    checked = check_rule(data)
    return {**data, "conditions": list(checked.conditions)}


def checked(row: ColourRule, data: dict) -> dict:
    """`row` with the editable fields of `data`, checked as `save_rule` checks it."""
    if not isinstance(data, dict):
        raise ApiError("invalid_rule_json", "提交的规则无效，请重新编辑", 400, "payload")
    merged = {**rule_data(row), **{k: data[k] for k in EDITABLE if k in data}}
    check_rule(merged)
    return merged


def differences(before: dict, after: dict) -> list[tuple[str, str, str]]:
    """(label, before, after) of each editable field that changes."""
    return [(label, show(before, name), show(after, name)) for name, label in EDITABLE.items()
            if show(before, name) != show(after, name)]


@dataclass(frozen=True)
class Preview:
    """What a change would do on today's data: how many people go from one colour to another."""

    moves: list[tuple[str, str, int]]  # (from, to, people), largest first

    @property
    def text(self) -> str:
        """"3 人 黄→绿，1 人 绿→红" (or that nobody's colour changes)."""
        return "，".join(f"{n} 人 {COLOUR_NAMES[a]}→{COLOUR_NAMES[b]}" for a, b, n in self.moves) or "无人颜色变化"


def _matches(rule: Rule, today: dt.date) -> set[str]:
    return {row[0] for row in rule.query(today)}


def _colours(rule_set: list[Rule], matched: dict, today: dt.date) -> dict[str, str]:
    worst: dict[str, str] = {}
    for rule in rule_set:
        key = id(rule)
        if key not in matched:
            matched[key] = _matches(rule, today)
        for subject in matched[key]:
            if SEVERITY[rule.colour] > SEVERITY.get(worst.get(subject, "green"), 0):
                worst[subject] = rule.colour
    return worst


def preview(code: str, data: dict, today: dt.date | None = None) -> Preview:
    """Evaluate the rules in force and the same set with `data` in place of rule `code`, each rule
    once, set-wise, and count the people whose colour would move (not those a manual override
    holds). Nothing is written."""
    today = today or china_today()
    current = colour_rules.load_rules()
    proposed = [rule for rule in current if rule.code != code]
    if data.get("enabled", True):
        proposed.append(check_rule(data))
    matched: dict = {}
    before, after = _colours(current, matched, today), _colours(proposed, matched, today)
    fixed = colour.overridden(today)  # a manual override holds whatever the rules say
    moves = Counter((before.get(s, "green"), after.get(s, "green")) for s in before.keys() | after.keys()
                    if s not in fixed)
    return Preview(sorted(((a, b, n) for (a, b), n in moves.items() if a != b), key=lambda m: (-m[2], m[0], m[1])))


def scheme_preview(scheme: int, config) -> Preview:
    """How many people would be shown another colour under `scheme`: the orange ones."""
    shown_now = colour_scheme.current(config)
    if scheme == shown_now:
        return Preview([])
    today = china_today()
    colours = {**_colours(colour_rules.load_rules(), {}, today), **colour.overridden(today)}
    orange = len({s for s, c in colours.items() if c == "orange"})
    moves = [("orange", "yellow", orange)] if scheme == 3 else [("yellow", "orange", orange)]
    return Preview([m for m in moves if m[2]])


def propose_rule(admin: AdminUser, code: str, data: dict, reason, *, base_version: int,
                 note: str = "") -> ApprovalRequest:
    """Propose `data` as rule `code`'s next version, for a second city account to approve;
    `base_version` is the version the proposer saw (a change made meanwhile refuses it)."""
    _require_city(admin)
    row = get_rule(code)
    if base_version != current_version(code):
        raise ApiError("rule_changed", "该规则已被修改，请重新打开后再提交", 409)
    data = checked(row, data)
    changes = differences(rule_data(row), data)
    if not changes:
        raise ApiError("no_change", "规则没有变化", 400)
    summary = (f"修改赋码规则「{row.reason}」：" + "；".join(f"{label} {a}→{b}" for label, a, b in changes)
               + f"。预计 {preview(code, data).text}")
    return approvals.propose(admin, RULE_KIND, target=f"colour_rule:{code}", summary=summary, reason=reason,
                             payload={"code": code, "data": data, "base_version": base_version,
                                      "note": note or "；".join(f"{label} {a}→{b}" for label, a, b in changes)})


def propose_scheme(admin: AdminUser, scheme, reason, config) -> ApprovalRequest:
    """Propose the 3- or 4-colour scheme, for a second city account to approve."""
    _require_city(admin)
    try:
        scheme = int(scheme)
    except (TypeError, ValueError):
        scheme = None
    if scheme not in colour_scheme.SCHEMES:
        raise ApiError("invalid_field", "颜色方案只能是三色或四色", 400, "scheme")
    if scheme == colour_scheme.current(config):
        raise ApiError("no_change", "颜色方案没有变化", 400, "scheme")
    summary = f"颜色方案改为{colour_scheme.SCHEMES[scheme]}。预计 {scheme_preview(scheme, config).text}（显示颜色）"
    return approvals.propose(admin, SCHEME_KIND, target="colour_scheme", summary=summary, reason=reason,
                             payload={"scheme": scheme})


# --- what approving does -----------------------------------------------------------------------

def _apply_rule(request: ApprovalRequest, payload: dict, approver: AdminUser) -> str:
    code, data = payload["code"], payload["data"]
    row = get_rule(code)
    if current_version(code) != payload["base_version"]:
        raise ApiError("rule_changed", "该规则在提交后已被修改，请驳回后重新提交", 409)
    before = rule_data(row)
    if not ColourRuleVersion.select().where(ColourRuleVersion.rule_code == code).exists():
        ColourRuleVersion.create(rule_code=code, version=1, data=json.dumps(before, ensure_ascii=False),
                                 note="初始版本")
    today = china_today()
    touched = _matches(check_rule(before), today) if before["enabled"] else set()
    colour_rules.save_rule(data)
    version = ColourRuleVersion.create(rule_code=code, version=payload["base_version"] + 1,
                                       data=json.dumps(data, ensure_ascii=False), note=payload.get("note", "")[:255],
                                       saved_by=request.proposed_by_id, approval=request)
    if data.get("enabled", True):
        touched |= _matches(check_rule(data), today)
    audit.record(None, approver.role, "colour_rule_changed", row, admin_actor=approver, version=version.version,
                 proposed_by=request.proposed_by_id, note=version.note)
    result = colour.recompute(touched, why="colour_rule_changed")
    return f"规则已更新为第 {version.version} 版，{result['changed']} 人颜色已重新计算"


def _apply_scheme(request: ApprovalRequest, payload: dict, approver: AdminUser) -> str:
    scheme = payload["scheme"]
    colour_scheme.store(scheme, approver)
    audit.record(None, approver.role, "colour_scheme_changed", request, admin_actor=approver, scheme=scheme)
    return f"颜色方案已改为{colour_scheme.SCHEMES[scheme]}"


approvals.register(RULE_KIND, "修改赋码规则", _apply_rule)
approvals.register(SCHEME_KIND, "修改颜色方案", _apply_scheme)
