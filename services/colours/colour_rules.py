"""Colour rules as data (D2, D3): the inputs a rule may read, rule validation, the default set,
and the set-wise SQL each rule becomes.

A rule reads one input and AND-s conditions on its fields:

    {"code": "fever", "colour": "red", "input": "temperature",
     "conditions": [{"field": "value", "op": ">=", "value": 37.3}],
     "window_days": 14, "reason": "体温异常（≥37.3℃）", "guidance": "...", "lifted_by_release": true}

Each rule is one SELECT of (subject, latest event date) over its input, for everybody at once or
for a few subjects, so a full recompute costs one query per rule, not one per person.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Callable

import peewee

from models.colour import RULE_STAMP_TABLE, ColourRule
from models.db import db, is_mysql
from models.declarations import Declaration
from models.fields import utcnow
from models.people import Person
from models.risk_inputs import (CaseReport, CloseContact, FeverMedicinePurchase, IsolationRecord, ReleaseNotice,
                                RiskArea, RiskListing, TemperatureRecord, TravelRecord)
from services.common.errors import ApiError

COLOURS = ("green", "yellow", "orange", "red")
SEVERITY = {c: i for i, c in enumerate(COLOURS)}
RULE_COLOURS = ("yellow", "orange", "red")
OPS = {
    "=": lambda col, v: col == v,
    "!=": lambda col, v: col != v,
    ">": lambda col, v: col > v,
    ">=": lambda col, v: col >= v,
    "<": lambda col, v: col < v,
    "<=": lambda col, v: col <= v,
    "in": lambda col, v: col.in_(v),
}
ORDER_OPS = (">", ">=", "<", "<=")


class RuleDataError(Exception):
    """The rules cannot be read or make no sense: colours are then unknown, never green."""


@dataclass(frozen=True)
class RuleField:
    """A field a condition may test: its kind and, for choices, the allowed values."""

    kind: str  # number | bool | choice
    column: Callable[[], peewee.Node]
    choices: tuple = ()
    label: str = ""


@dataclass(frozen=True)
class RuleInput:
    """A table of facts a rule can read: where the subject and the event date are, its fields."""

    name: str
    label: str
    query: Callable[[], peewee.ModelSelect]  # rows of this input, with the subject selectable
    subject: Callable[[], peewee.Node]
    date: Callable[[], peewee.Node]
    fields: dict[str, RuleField] = field(default_factory=dict)
    batch: Callable[[], peewee.Node] | None = None  # the facts' provenance (models.risk_inputs.RiskBatch)


def _travel_origin_risk(value: str) -> peewee.Node:
    # The origin matches an area at its level: 2, 4 or all 6 digits of the code, and the area
    # must have been listed on the arrival date.
    origin = TravelRecord.origin_code
    prefixes = (peewee.fn.SUBSTR(origin, 1, 2), peewee.fn.SUBSTR(origin, 1, 4), origin)
    return peewee.fn.EXISTS(
        RiskArea.select(peewee.SQL("1")).where(
            RiskArea.prefix.in_(list(prefixes))
            & (RiskArea.risk == value)
            & (RiskArea.effective_from <= TravelRecord.event_date)
            & (RiskArea.effective_until.is_null() | (RiskArea.effective_until >= TravelRecord.event_date))
        )
    )


class _Virtual:
    """Marks a field whose condition is a whole expression rather than a column comparison."""

    def __init__(self, build: Callable[[object], peewee.Node]):
        self.build = build


CASE_KINDS = ("confirmed", "suspected", "asymptomatic")
LISTING_KINDS = ("secondary_contact", "fever_clinic_visit", "isolation_order", "key_person")
CASE_STATUSES = ("active", "closed")
ISOLATION_STATUSES = ("released", "pending", "confirmed", "not_needed", "not_in_compound")
RISK_LEVELS = ("medium", "high", "key")
HEALTH_STATUSES = ("healthy", "fever", "cough", "other")

INPUTS: dict[str, RuleInput] = {
    "close_contact": RuleInput(
        "close_contact", "密切接触者名单", lambda: CloseContact.select(),
        lambda: CloseContact.subject, lambda: CloseContact.event_date,
        {"source": RuleField("choice", lambda: CloseContact.source, label="名单来源")},
        lambda: CloseContact.batch),
    "case": RuleInput(
        "case", "确诊和疑似病例", lambda: CaseReport.select(),
        lambda: CaseReport.subject, lambda: CaseReport.event_date,
        {"kind": RuleField("choice", lambda: CaseReport.kind, CASE_KINDS, "病例类型"),
         "status": RuleField("choice", lambda: CaseReport.status, CASE_STATUSES, "病例状态")},
        lambda: CaseReport.batch),
    "compound_case": RuleInput(
        "compound_case", "本人所在小区的病例",
        lambda: CaseReport.select().join(Person, on=(Person.compound == CaseReport.compound)).where(
            Person.id_number_bidx.is_null(False)),
        lambda: Person.id_number_bidx, lambda: CaseReport.event_date,
        {"kind": RuleField("choice", lambda: CaseReport.kind, CASE_KINDS, "病例类型"),
         "status": RuleField("choice", lambda: CaseReport.status, CASE_STATUSES, "病例状态")},
        lambda: CaseReport.batch),
    "temperature": RuleInput(
        "temperature", "体温记录", lambda: TemperatureRecord.select(),
        lambda: TemperatureRecord.subject, lambda: TemperatureRecord.event_date,
        {"value": RuleField("number", lambda: TemperatureRecord.value, label="体温")}),
    "travel": RuleInput(
        "travel", "行程记录", lambda: TravelRecord.select(),
        lambda: TravelRecord.subject, lambda: TravelRecord.event_date,
        {"origin_risk": RuleField("choice", lambda: _Virtual(_travel_origin_risk), RISK_LEVELS, "出发地风险等级"),
         "from_abroad": RuleField("bool", lambda: TravelRecord.from_abroad, label="是否境外返回")}),
    "fever_medicine": RuleInput(
        "fever_medicine", "退烧药购买记录", lambda: FeverMedicinePurchase.select(),
        lambda: FeverMedicinePurchase.subject, lambda: FeverMedicinePurchase.event_date, {},
        lambda: FeverMedicinePurchase.batch),
    "listing": RuleInput(
        "listing", "其他风险名单（次密接、发热门诊、隔离令、重点人员）", lambda: RiskListing.select(),
        lambda: RiskListing.subject, lambda: RiskListing.event_date,
        {"kind": RuleField("choice", lambda: RiskListing.kind, LISTING_KINDS, "名单类型")},
        lambda: RiskListing.batch),
    "isolation": RuleInput(
        "isolation", "隔离状态", lambda: IsolationRecord.select(),
        lambda: IsolationRecord.subject, lambda: IsolationRecord.event_date,
        {"status": RuleField("choice", lambda: IsolationRecord.status, ISOLATION_STATUSES, "隔离状态")}),
    "declaration": RuleInput(
        "declaration", "健康申报", lambda: Declaration.select(),
        lambda: Declaration.subject, lambda: Declaration.event_date,
        {"contact_with_patient": RuleField("bool", lambda: Declaration.contact_with_patient, label="是否接触病例"),
         "health_status": RuleField("choice", lambda: Declaration.health_status, HEALTH_STATUSES, "健康状况"),
         "kind": RuleField("choice", lambda: Declaration.kind, ("personal", "member", "student_staff", "grid"), "申报类型")}),
}

_CONTACT_GUIDANCE = "请配合居家或集中隔离医学观察；观察期满，由医务人员核验并开具解除医学观察告知书后恢复绿码"
DEFAULT_RULES = [
    {"code": "close_contact", "colour": "red", "input": "close_contact", "conditions": [], "window_days": 14,
     "reason": "密切接触者", "guidance": _CONTACT_GUIDANCE, "lifted_by_release": True},
    {"code": "fever", "colour": "red", "input": "temperature",
     "conditions": [{"field": "value", "op": ">=", "value": 37.3}], "window_days": 14,
     "reason": "体温异常（≥37.3℃）", "lifted_by_release": True,
     "guidance": "请前往发热门诊就诊；排除感染后，由医务人员开具解除医学观察告知书后恢复绿码"},
    {"code": "case", "colour": "red", "input": "case",
     "conditions": [{"field": "kind", "op": "in", "value": ["confirmed", "suspected"]},
                    {"field": "status", "op": "=", "value": "active"}], "window_days": None,
     "reason": "确诊或疑似病例", "guidance": "请在定点医院接受治疗；治愈出院或排除疑似后恢复绿码"},
    {"code": "isolation", "colour": "red", "input": "isolation",
     "conditions": [{"field": "status", "op": "=", "value": "confirmed"}], "window_days": None,
     "reason": "正在隔离医学观察", "guidance": "隔离期满，由医务人员开具解除医学观察告知书后恢复绿码",
     "lifted_by_release": True},
    {"code": "declared_contact", "colour": "red", "input": "declaration",
     "conditions": [{"field": "contact_with_patient", "op": "=", "value": True}], "window_days": 14,
     "reason": "申报曾与确诊或疑似病例接触", "guidance": _CONTACT_GUIDANCE, "lifted_by_release": True},
    {"code": "declared_fever", "colour": "red", "input": "declaration",
     "conditions": [{"field": "health_status", "op": "=", "value": "fever"}], "window_days": 14,
     "reason": "申报发热", "lifted_by_release": True,
     "guidance": "请前往发热门诊就诊；排除感染后，由医务人员开具解除医学观察告知书后恢复绿码"},
    {"code": "key_region", "colour": "orange", "input": "travel",
     "conditions": [{"field": "origin_risk", "op": "=", "value": "key"}], "window_days": 14,
     "reason": "14天内有重点地区旅居史", "guidance": "自抵达之日起满14天后自动恢复绿码"},
    {"code": "compound_case", "colour": "orange", "input": "compound_case",
     "conditions": [{"field": "kind", "op": "in", "value": ["confirmed", "suspected"]},
                    {"field": "status", "op": "=", "value": "active"}], "window_days": 14,
     "reason": "所住小区有确诊或疑似病例", "guidance": "请减少外出，做好个人防护"},
    {"code": "high_risk_area", "colour": "yellow", "input": "travel",
     "conditions": [{"field": "origin_risk", "op": "=", "value": "high"}], "window_days": 14,
     "reason": "14天内来自高风险地区", "guidance": "自抵达之日起满14天后自动恢复绿码"},
    {"code": "fever_medicine", "colour": "yellow", "input": "fever_medicine", "conditions": [], "window_days": 14,
     "reason": "14天内购买过退烧药品", "guidance": "自购药之日起满14天后自动恢复绿码"},
    # Added with the risk lists (issue 19): stored on databases that already have rules by
    # `install_defaults`, which adds any of these whose code is missing.
    {"code": "asymptomatic_case", "colour": "red", "input": "case",
     "conditions": [{"field": "kind", "op": "=", "value": "asymptomatic"},
                    {"field": "status", "op": "=", "value": "active"}], "window_days": None,
     "reason": "无症状感染者", "guidance": "请在定点医院或集中隔离点接受医学观察；解除隔离后恢复绿码"},
    {"code": "isolation_order", "colour": "red", "input": "listing",
     "conditions": [{"field": "kind", "op": "=", "value": "isolation_order"}], "window_days": None,
     "reason": "已下达隔离令", "guidance": "请按隔离令居家或集中隔离；期满由医务人员开具解除医学观察告知书后恢复绿码",
     "lifted_by_release": True},
    {"code": "key_person", "colour": "red", "input": "listing",
     "conditions": [{"field": "kind", "op": "=", "value": "key_person"}], "window_days": None,
     "reason": "公安重点人员", "guidance": "请联系所在辖区派出所核实；核实无误后由公安部门撤销标记，恢复绿码"},
    {"code": "secondary_contact", "colour": "yellow", "input": "listing",
     "conditions": [{"field": "kind", "op": "=", "value": "secondary_contact"}], "window_days": 14,
     "reason": "次密切接触者", "lifted_by_release": True,
     "guidance": "请居家健康监测，配合核酸检测；自列入之日起满14天或开具解除医学观察告知书后恢复绿码"},
    {"code": "fever_clinic_visit", "colour": "yellow", "input": "listing",
     "conditions": [{"field": "kind", "op": "=", "value": "fever_clinic_visit"}], "window_days": 14,
     "reason": "14天内曾在发热门诊就诊", "lifted_by_release": True,
     "guidance": "自就诊之日起满14天，或排除感染后由医务人员开具解除医学观察告知书后恢复绿码"},
]
LATER_DEFAULTS = ("asymptomatic_case", "isolation_order", "key_person", "secondary_contact", "fever_clinic_visit")


@dataclass(frozen=True)
class Rule:
    """A checked rule, ready to become SQL."""

    code: str
    colour: str
    input: str
    conditions: tuple
    window_days: int | None
    reason: str
    guidance: str | None
    lifted_by_release: bool
    position: int = 0

    def last_day(self, event_date: dt.date) -> dt.date | None:
        """The last day a fact of `event_date` still counts ("within 14 days": day 1 to day 14)."""
        return None if self.window_days is None else event_date + dt.timedelta(days=self.window_days - 1)

    def matching(self, today: dt.date, subjects: list[str] | None = None) -> peewee.ModelSelect:
        """The rows of the rule's input it counts today (of `subjects`, or everybody's)."""
        spec = INPUTS[self.input]
        subject, date = spec.subject(), spec.date()
        query = spec.query()
        withdrawn = getattr(query.model, "withdrawn_at", None)
        if withdrawn is not None:  # a list entry withdrawn as a mistake counts no more
            query = query.where(withdrawn.is_null())
        for condition in self.conditions:
            rule_field = spec.fields[condition["field"]]
            column = rule_field.column()
            if isinstance(column, _Virtual):
                query = query.where(column.build(condition["value"]))
            else:
                query = query.where(OPS[condition["op"]](column, condition["value"]))
        query = query.where(date <= today)
        if self.window_days is not None:
            query = query.where(date >= today - dt.timedelta(days=self.window_days - 1))
        if self.lifted_by_release:
            query = query.where(~peewee.fn.EXISTS(
                ReleaseNotice.select(peewee.SQL("1")).where(
                    (ReleaseNotice.subject == subject) & (ReleaseNotice.event_date >= date)
                    & ReleaseNotice.revoked_at.is_null())))
        if subjects is not None:
            query = query.where(subject.in_(subjects))
        return query

    def query(self, today: dt.date, subjects: list[str] | None = None) -> peewee.ModelSelect:
        """SELECT subject, latest event date of every person this rule matches today, and, for an
        input whose facts carry their provenance, the latest batch among them (None: none)."""
        spec = INPUTS[self.input]
        subject, date = spec.subject(), spec.date()
        columns = [subject.alias("subject"), peewee.fn.MAX(date).alias("latest")]
        if spec.batch is not None:
            columns.append(peewee.fn.MAX(spec.batch()).alias("batch"))
        return self.matching(today, subjects).select(*columns).group_by(subject).tuples()


def _field_error(path: str, code: str, message: str) -> ApiError:
    return ApiError(code, message, 400, path)


def _check_value(rule_field: RuleField, op: str, value, path: str, field_name: str):
    values = value if op == "in" else [value]
    if op == "in" and (not isinstance(value, list) or not value):
        raise _field_error(path, "invalid_rule_condition", f"条件 {field_name} 使用 in 时取值应为非空列表")
    for v in values:
        if rule_field.kind == "number" and (isinstance(v, bool) or not isinstance(v, (int, float))):
            raise _field_error(path, "invalid_rule_condition", f"条件 {field_name} 的取值应为数字")
        if rule_field.kind == "bool" and not isinstance(v, bool):
            raise _field_error(path, "invalid_rule_condition", f"条件 {field_name} 的取值应为 true 或 false")
        if rule_field.kind == "choice":
            if not isinstance(v, str) or (rule_field.choices and v not in rule_field.choices):
                allowed = "、".join(rule_field.choices) if rule_field.choices else "文本"
                raise _field_error(path, "invalid_rule_condition", f"条件 {field_name} 的取值无效（可选：{allowed}）")
    if op in ORDER_OPS and rule_field.kind != "number":
        raise _field_error(path, "invalid_rule_condition", f"条件 {field_name} 不能使用 {op} 比较")
    if isinstance(rule_field.column(), _Virtual) and op != "=":
        raise _field_error(path, "invalid_rule_condition", f"条件 {field_name} 只能使用 =")
    return float(value) if rule_field.kind == "number" else value


def check_rule(data: dict) -> Rule:
    """Validate a rule declaration; any fault is a 400 naming the field, nothing is stored."""
    known = {"code", "colour", "input", "conditions", "window_days", "reason", "guidance", "lifted_by_release",
             "enabled", "position"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise _field_error(unknown[0], "unknown_rule_field", f"规则不支持的字段：{unknown[0]}")
    for name in ("code", "colour", "input", "reason"):
        if not isinstance(data.get(name), str) or not data[name].strip():
            raise _field_error(name, "missing_field", f"规则缺少 {name}")
    if data["colour"] not in RULE_COLOURS:
        raise _field_error("colour", "invalid_field", "规则颜色只能是 red、orange 或 yellow")
    spec = INPUTS.get(data["input"])
    if spec is None:
        raise _field_error("input", "unknown_rule_input", f"规则引用了不存在的数据来源：{data['input']}")
    window = data.get("window_days")
    if window is not None and (isinstance(window, bool) or not isinstance(window, int) or not 1 <= window <= 366):
        raise _field_error("window_days", "invalid_field", "时间窗口应为 1 至 366 天，或留空表示一直有效")
    if data["colour"] == "red" and not (data.get("guidance") or "").strip():
        raise _field_error("guidance", "missing_field", "红码规则必须说明如何解除")
    conditions = data.get("conditions") or []
    if not isinstance(conditions, list):
        raise _field_error("conditions", "invalid_field", "conditions 应为列表")
    checked = []
    for i, condition in enumerate(conditions):
        path = f"conditions[{i}]"
        if not isinstance(condition, dict) or set(condition) != {"field", "op", "value"}:
            raise _field_error(path, "invalid_rule_condition", "每个条件应包含 field、op、value")
        name, op = condition["field"], condition["op"]
        if name not in spec.fields:
            raise _field_error(f"{path}.field", "unknown_rule_field", f"数据来源 {spec.label} 没有字段 {name}")
        if op not in OPS:
            raise _field_error(f"{path}.op", "invalid_rule_condition", f"不支持的比较方式：{op}")
        value = _check_value(spec.fields[name], op, condition["value"], f"{path}.value", name)
        checked.append({"field": name, "op": op, "value": value})
    return Rule(code=data["code"].strip(), colour=data["colour"], input=data["input"], conditions=tuple(checked),
                window_days=window, reason=data["reason"].strip(), guidance=(data.get("guidance") or None),
                lifted_by_release=bool(data.get("lifted_by_release", False)), position=int(data.get("position", 0)))


def _row_to_rule(row: ColourRule) -> Rule:
    return check_rule({"code": row.code, "colour": row.colour, "input": row.input,
                       "conditions": json.loads(row.conditions), "window_days": row.window_days,
                       "reason": row.reason, "guidance": row.guidance, "lifted_by_release": row.lifted_by_release,
                       "position": row.position})


# What the rules' fingerprint covers: every column a rule is made of.
_FINGERPRINT_COLUMNS = ("id", "code", "colour", "input", "conditions", "window_days", "reason", "guidance",
                        "lifted_by_release", "enabled", "position")


def rules_fingerprint():
    """A scalar subquery for any SELECT: the rule rows' fingerprint, so that a statement that
    reads something else (the scan's) also tells whether the rules are the ones last checked
    (see `check_fingerprint`). SQLite: the stamp that triggers renew on every change to the
    table (models.colour.RULE_STAMP_TABLE). MySQL: the sum of each row's CRC32 (triggers there
    need privileges a production account may lack; GROUP_CONCAT costs a scan 0.25 ms more); a
    change to a row that the sum does not show would be a one-in-four-billion collision."""
    if not is_mysql():
        stamp = peewee.Table(RULE_STAMP_TABLE, ("stamp",))
        return stamp.select(stamp.stamp)
    rule = ColourRule.alias("fingerprint_rule")
    # COALESCE only where a NULL may be: each function call costs on every scan.
    columns = [peewee.fn.COALESCE(field, "-") if field.null else field
               for field in (getattr(rule, name) for name in _FINGERPRINT_COLUMNS)]
    return rule.select(peewee.fn.SUM(peewee.fn.CRC32(peewee.fn.CONCAT_WS("\x1f", *columns))))


_rules_sql: dict = {}  # Database -> the rule rows' SELECT (with their fingerprint), compiled once
_checked: tuple = (None, [])  # (the rows last checked, as the driver gave them; their rules)
_good_fingerprint = None  # (database, the fingerprint of its rows last checked good)


def _rule_rows() -> tuple[list[tuple], object]:
    """The rule rows, and their fingerprint read in the same statement."""
    sql = _rules_sql.get(db.obj)
    if sql is None:
        query = (ColourRule.select(*ColourRule._meta.sorted_fields, rules_fingerprint().alias("fingerprint"))
                 .order_by(ColourRule.position, ColourRule.id))
        sql = _rules_sql[db.obj] = query.sql()
    rows = db.execute_sql(*sql).fetchall()
    return [tuple(row[:-1]) for row in rows], (rows[0][-1] if rows else None)


def load_rules() -> list[Rule]:
    """The enabled rules, checked. Raises RuleDataError when they cannot be read or trusted.

    The rows are read every time, so any change to the table (through save_rule or not) counts
    at once; what is saved is compiling the SELECT again and checking rows identical to the ones
    checked last time."""
    global _checked, _good_fingerprint
    try:
        rows, fingerprint = _rule_rows()
        if not rows:
            raise RuleDataError("no colour rules are stored")
        if rows != _checked[0]:
            fields = ColourRule._meta.sorted_fields
            models = [ColourRule(**{f.name: f.python_value(v) for f, v in zip(fields, row)}) for row in rows]
            _checked = (rows, [_row_to_rule(row) for row in models if row.enabled])
        _good_fingerprint = (db.obj, fingerprint)
        return list(_checked[1])
    except (peewee.PeeweeException, ValueError, TypeError, ApiError) as exc:
        raise RuleDataError(f"colour rules unreadable: {type(exc).__name__}") from exc


def check_fingerprint(fingerprint) -> None:
    """Raise RuleDataError unless the rules are good: `fingerprint` (read by the caller with
    `rules_fingerprint`) equal to that of the rows last checked good needs nothing more; any
    other is checked by reading the rules (`load_rules`)."""
    if fingerprint is None or (db.obj, fingerprint) != _good_fingerprint:
        load_rules()


def save_rule(data: dict) -> Rule:
    """Create or replace a rule by code (checked first; nothing is stored when it is wrong)."""
    rule = check_rule(data)
    values = {"colour": rule.colour, "input": rule.input, "conditions": json.dumps(list(rule.conditions)),
              "window_days": rule.window_days, "reason": rule.reason, "guidance": rule.guidance,
              "lifted_by_release": rule.lifted_by_release, "enabled": bool(data.get("enabled", True)),
              "position": rule.position, "updated_at": utcnow()}
    with db.atomic():
        if not ColourRule.update(**values).where(ColourRule.code == rule.code).execute():
            ColourRule.create(code=rule.code, **values)
    return rule


def install_defaults() -> int:
    """Store the default rule set when no rule is stored yet, or, on a database that has rules,
    the defaults added since (`LATER_DEFAULTS`) whose code is missing; return how many were added."""
    stored = {code for (code,) in ColourRule.select(ColourRule.code).tuples()}
    wanted = [(position, data) for position, data in enumerate(DEFAULT_RULES)
              if data["code"] not in stored and (not stored or data["code"] in LATER_DEFAULTS)]
    with db.atomic():
        for position, data in wanted:
            save_rule({**data, "position": position})
    return len(wanted)
