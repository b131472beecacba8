"""Each investigation list (任务排查的名单来源) declared once: its Excel template, its dispatch rule,
its status set and workflow, the effects of some statuses, and which roles see and import it.

A new list is one more `Source(...)` here: the back-office pages, the import, the blank template,
the statistics and the history all read these declarations.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from services.accounts import admin_auth  # noqa: F401
from services.risk_data import health_authority  # noqa: F401  (registers the health roles)

# --- roles of this area (city / district / street / community / compound are the level roles) ----
HUB_ROLES = {"hub_airport": ("机场专班", "plane"), "hub_hsr": ("高铁站专班", "hsr"),
             "hub_railway": ("火车站专班", "train")}
for _code, (_label, _mode) in HUB_ROLES.items():
    admin_auth.register_role(_code, _label, "city")
admin_auth.register_role("police", "公安（市级）", "city")
admin_auth.register_role("police_district", "公安（区县）", "district")
admin_auth.register_role("fever_clinic", "医院发热门诊", "district")

LEVEL_ROLES = ("city", "district", "street", "community", "compound")
HUBS = tuple(HUB_ROLES)
POLICE = ("police", "police_district")

TRANSPORTS = {"plane": "飞机", "hsr": "高铁", "train": "火车", "car": "汽车", "other": "其他"}


@dataclass(frozen=True)
class TemplateColumn:
    """One column of a source's Excel template.

    `header` is the text of the template's header cell (the sheet's columns are found by it, so
    their order does not matter); `aliases` are other spellings accepted on upload. A column is
    needed in the sheet unless `optional`; its cells must be filled when `required`. `personal`
    cells are encrypted and masked; `list` columns are shown in the list pages.
    """

    key: str
    header: str
    # text | date | datetime | phone | id_number | document | transport | decimal | choice |
    # district (a district of the uploader's city, by name: another name is a bad row, not an
    # unassigned one)
    kind: str = "text"
    required: bool = False
    personal: bool = False
    optional: bool = False
    aliases: tuple[str, ...] = ()
    list: bool = False
    max_len: int = 128
    choices: tuple[tuple[str, str], ...] = ()  # a choice column's (code, label) pairs


@dataclass(frozen=True)
class Effect:
    """What a status does beyond the list: `kind` "isolation" sets the person's isolation status
    (value: the residents' status code), "abroad_arrival" records an arrival from abroad."""

    kind: str
    value: str = ""


@dataclass(frozen=True)
class Workflow:
    """A status set: code -> the seed's label (the first is where a record starts), the allowed
    transitions, which statuses count as investigated (已排查), and effects."""

    statuses: dict[str, str]
    transitions: dict[str, tuple[str, ...]]
    done: frozenset[str]
    effects: dict[str, Effect] = field(default_factory=dict)
    groups: dict[str, tuple[str, str]] = field(default_factory=dict)  # filter groups: code -> (label, "done"|"open")

    @property
    def initial(self) -> str:
        return next(iter(self.statuses))

    def allowed(self, from_status: str, to_status: str) -> bool:
        return to_status in self.transitions.get(from_status, ())


@dataclass(frozen=True)
class Source:
    """One list: its template, dispatch rule, workflow and audience. A risk list (`risk_kind`, see
    services/investigations/risk_lists.py) has no workflow: its rows go to risk_records.ingest."""

    code: str
    label: str  # the list page's title
    columns: tuple[TemplateColumn, ...]
    key_columns: tuple[str, ...]  # the row's natural key: importing it again adds nothing
    dispatch: str  # base_station_county | boarding_station | compound_or_address | reporter | none
    workflow: Workflow | None
    roles: tuple[str, ...]  # who sees the list
    import_roles: tuple[str, ...]  # who may upload it
    date_column: str | None = None  # the column that dates the record (time filter, statistics by date)
    categories: dict[str, str] = field(default_factory=dict)  # 分类, chosen when importing
    address_columns: tuple[str, ...] = ()  # read by the compound_or_address rule
    import_label: str = ""  # the upload page's title
    risk_kind: str | None = None  # a services.risk_data.risk_records kind: accepted rows become risk records

    def column(self, key: str) -> TemplateColumn:
        for column in self.columns:
            if column.key == key:
                return column
        raise KeyError(key)

    @property
    def headers(self) -> list[str]:
        return [c.header for c in self.columns]

    @property
    def resource_name(self) -> str:
        return f"task_{self.code}"


def _outcomes_anywhere(initial: str, outcomes: dict[str, str], extra: dict | None = None) -> dict:
    """Transitions where the initial status goes to any outcome and an outcome may be corrected."""
    transitions = {initial: tuple(outcomes)}
    for code in outcomes:
        transitions[code] = tuple(c for c in outcomes if c != code)
    transitions.update(extra or {})
    return transitions


ISOLATED = Effect("isolation", "confirmed")

# 通管 / 火车站 / 指挥部 lists: 未排查 (待反馈) and the 已排查 results.
_CHECKED = {"home_isolation": "已排查，居家隔离", "central_isolation": "已排查，集中隔离",
            "no_isolation": "已排查，无需隔离", "not_local": "已排查，不在本地", "unreachable": "已排查，联系不上"}
_CHECKED_EFFECTS = {"home_isolation": ISOLATED, "central_isolation": ISOLATED}
_CHECKED_GROUPS = {"done": ("已排查（全部）", "done"), "open": ("未排查", "open")}


def _checked_workflow(initial_label: str) -> Workflow:
    return Workflow({"pending": initial_label, **_CHECKED}, _outcomes_anywhere("pending", _CHECKED),
                    frozenset(_CHECKED), _CHECKED_EFFECTS, _CHECKED_GROUPS)


TELECOM = Source(
    code="telecom", label="通管人员摸排", import_label="上传通管名单（电信、移动、联通）",
    columns=(
        TemplateColumn("date", "日期", "date", required=True, list=True),
        TemplateColumn("phone", "手机号码", "phone", required=True, personal=True, list=True, aliases=("手机号",)),
        TemplateColumn("inflow_city", "流入市", max_len=32),
        TemplateColumn("inflow_county", "流入县", max_len=32, list=True),
        TemplateColumn("home_province", "归属省", max_len=32),
        TemplateColumn("home_city", "归属市", max_len=32, list=True),
        TemplateColumn("name", "姓名", personal=True, list=True, max_len=64),
        TemplateColumn("id_number", "证件号码", "id_number", personal=True, list=True, aliases=("身份证号码", "身份证")),
        TemplateColumn("id_address", "证件地址", personal=True, max_len=255),
        TemplateColumn("stay_time", "最近滞留时间", max_len=32),
        TemplateColumn("base_station", "最近滞留基站", max_len=128),
        TemplateColumn("station_city", "基站归属地市", max_len=32),
        TemplateColumn("station_county", "基站归属区县", max_len=32, list=True),
        TemplateColumn("remark", "备注", optional=True, max_len=255),
    ),
    key_columns=("date", "phone", "stay_time", "base_station"),
    dispatch="base_station_county", workflow=_checked_workflow("待反馈"),
    roles=("city", "district"), import_roles=("city",), date_column="date")

# The person most lists are about: a name and a resident ID number, both required, and a phone.
PERSON_COLUMNS = (
    TemplateColumn("name", "姓名", required=True, personal=True, list=True, max_len=64),
    TemplateColumn("id_number", "证件号码", "id_number", required=True, personal=True, list=True,
                   aliases=("身份证号码", "身份证")),
    TemplateColumn("phone", "手机号码", "phone", personal=True, list=True, aliases=("手机号",)),
)

RAILWAY = Source(
    code="railway", label="火车站人员摸排", import_label="上传火车站旅客名单",
    columns=(
        TemplateColumn("date", "乘车日期", "date", required=True, list=True, aliases=("日期",)),
        TemplateColumn("train", "车次", required=True, list=True, max_len=16),
        TemplateColumn("boarding", "上车站", required=True, list=True, max_len=32),
        TemplateColumn("alighting", "下车站", max_len=32, list=True),
        *PERSON_COLUMNS,
        TemplateColumn("coach", "车厢", optional=True, max_len=8),
        TemplateColumn("seat", "座位号", optional=True, max_len=8),
        TemplateColumn("remark", "备注", optional=True, max_len=255),
    ),
    key_columns=("date", "train", "id_number"),
    dispatch="boarding_station", workflow=_checked_workflow("待反馈"),
    roles=("city", "district"), import_roles=("city",), date_column="date")

POLICE_STATUSES = {"to_verify": "应核实", "verified_isolated": "已核实，已确认隔离",
                   "verified_not_needed": "已核实，无需隔离", "verified_unreachable": "已核实，联系不上",
                   "verified_not_here": "已核实，未在本小区"}
POLICE_LIST = Source(
    code="police", label="公安摸排名单", import_label="上传公安摸排名单",
    columns=(
        TemplateColumn("date", "日期", "date", required=True, list=True),
        TemplateColumn("name", "姓名", required=True, personal=True, list=True, max_len=64),
        TemplateColumn("phone", "手机号", "phone", personal=True, list=True, aliases=("手机号码",)),
        TemplateColumn("id_number", "身份证", "id_number", required=True, personal=True, list=True,
                       aliases=("证件号码", "身份证号码")),
        TemplateColumn("street", "所属街道办事处", list=True, max_len=64, aliases=("所属街道",)),
        TemplateColumn("compound", "所属小区", list=True, max_len=64),
        TemplateColumn("address", "现住地址", personal=True, optional=True, max_len=255),
        TemplateColumn("remark", "备注", optional=True, max_len=255),
    ),
    key_columns=("date", "id_number"),
    dispatch="compound_or_address", address_columns=("address",),
    workflow=Workflow(POLICE_STATUSES, {"to_verify": tuple(c for c in POLICE_STATUSES if c != "to_verify")},
                      frozenset(c for c in POLICE_STATUSES if c != "to_verify"),
                      {"verified_isolated": ISOLATED},
                      {"done": ("已核实（全部）", "done"), "open": ("应核实", "open")}),
    roles=(*LEVEL_ROLES, *POLICE), import_roles=("city", *POLICE), date_column="date")

BORDER_CATEGORIES = {"airport": "机场", "hsr": "高铁站", "railway": "火车站", "police": "公安", "other": "其他"}
BORDER = Source(
    code="border", label="指挥部排查名单", import_label="边检数据导入",
    columns=(
        TemplateColumn("date", "日期", "date", required=True, list=True),
        TemplateColumn("name", "姓名", required=True, personal=True, list=True, max_len=64),
        TemplateColumn("id_number", "证件号码", "document", required=True, personal=True, list=True,
                       aliases=("身份证号码", "身份证")),
        TemplateColumn("phone", "手机号码", "phone", personal=True, list=True, aliases=("手机号",)),
        TemplateColumn("origin", "出发地", max_len=64, list=True),
        TemplateColumn("transport_number", "航班(车次/车牌)", max_len=32, aliases=("航班号", "车次", "航班")),
        TemplateColumn("address", "现住地址", personal=True, max_len=255),
        TemplateColumn("district_name", "所属区县", optional=True, max_len=32),
        TemplateColumn("remark", "备注", optional=True, max_len=255),
    ),
    key_columns=("date", "id_number"),
    dispatch="compound_or_address", address_columns=("district_name", "address"),
    workflow=_checked_workflow("未排查"), categories=BORDER_CATEGORIES,
    roles=("city", "district"), import_roles=("city", *HUBS, *POLICE), date_column="date")

RISK_STATUSES = {"pending": "待处置", "negative": "已检测阴性", "positive": "已检测阳性",
                 "registered": "已登记待检测", "exempt": "持有检查结果免检", "absent": "不在",
                 "unreachable": "联系不上", "awaiting_result": "已检测未出结果",
                 "reminded": "自述非中高风险返郑人员已提醒", "short_stay": "短期停留不足3天",
                 "central_isolation": "集中隔离", "home_isolation": "居家隔离"}
_RISK_OUTCOMES = {k: v for k, v in RISK_STATUSES.items() if k != "pending"}
RISK_CATEGORIES = {"import": "市级导入", "scan_red": "来郑扫码红码", "scan_yellow": "来郑扫码黄码"}
RISK = Source(
    code="risk", label="中高风险返郑人员排查", import_label="上传中高风险返郑人员名单",
    columns=(
        TemplateColumn("date", "来郑日期", "date", required=True, list=True, aliases=("日期",)),
        *PERSON_COLUMNS,
        TemplateColumn("origin", "出发地", max_len=64, list=True),
        TemplateColumn("address", "现住地址", personal=True, max_len=255),
        TemplateColumn("district_name", "所属区县", optional=True, max_len=32),
        TemplateColumn("remark", "备注", optional=True, max_len=255),
    ),
    key_columns=("date", "id_number"),
    dispatch="compound_or_address", address_columns=("district_name", "address"),
    workflow=Workflow(RISK_STATUSES, _outcomes_anywhere("pending", _RISK_OUTCOMES), frozenset(_RISK_OUTCOMES),
                      {"central_isolation": ISOLATED, "home_isolation": ISOLATED,
                       # A positive test: the compound is asked to confirm the isolation (待确认隔离).
                       "positive": Effect("isolation", "pending")},
                      {"done": ("已排查（全部）", "done"), "open": ("待处置", "open")}),
    categories=RISK_CATEGORIES, roles=("city", "district"), import_roles=("city",), date_column="date")

FEVER_STATUSES = {"not_asked": "未询问", "watching": "已询问，持续关注", "normal": "已询问，无异常",
                  "unreachable": "联系不上"}
FEVER = Source(
    code="fever", label="发热人员名单", import_label="上传发热门诊名单",
    columns=(
        TemplateColumn("date", "就诊日期", "date", required=True, list=True, aliases=("日期",)),
        *PERSON_COLUMNS,
        TemplateColumn("hospital", "就诊医院", required=True, list=True, max_len=64),
        TemplateColumn("temperature", "体温", "decimal", optional=True, max_len=8),
        TemplateColumn("address", "现住地址", personal=True, max_len=255),
        TemplateColumn("district_name", "所属区县", "district", optional=True, list=True, max_len=32),
        TemplateColumn("street", "所属街道", optional=True, list=True, max_len=64, aliases=("街道办",)),
        TemplateColumn("community", "所属社区", optional=True, list=True, max_len=64),
        TemplateColumn("compound", "所属小区", optional=True, list=True, max_len=64),
        TemplateColumn("remark", "备注", optional=True, max_len=255),
    ),
    key_columns=("date", "id_number", "hospital"),
    dispatch="compound_or_address", address_columns=("district_name", "address"),
    workflow=Workflow(FEVER_STATUSES,
                      # 已询问，无异常 has no button left (seed); the others can move on.
                      {"not_asked": ("watching", "normal", "unreachable"), "watching": ("normal", "unreachable"),
                       "unreachable": ("watching", "normal")},
                      frozenset({"watching", "normal", "unreachable"}), {},
                      {"done": ("已询问（全部）", "done"), "open": ("未询问", "open")}),
    # A district's own fever clinics send it their list: the district uploads it (seed 002).
    roles=(*LEVEL_ROLES, "fever_clinic"), import_roles=("city", "district", "fever_clinic"), date_column="date")

OVERSEAS_OUTCOMES = {"left": "离开", "picked_up": "各区县接走", "fever_hospital": "发热送医",
                     "central_isolation": "集中隔离", "not_back": "未回", "crew": "机组成员",
                     "never_abroad": "从未出境", "over_14_days": "境外返回超过十四天", "home_isolation": "居家隔离"}
OVERSEAS_STATUSES = {"pending": "待反馈", "received": "已接收", "arrived": "已到达", "late": "超时未到",
                     **OVERSEAS_OUTCOMES}
_OUT = tuple(OVERSEAS_OUTCOMES)
OVERSEAS = Source(
    code="overseas", label="境外返郑人员名单", import_label="上传境外返郑人员名单",
    columns=(
        TemplateColumn("name", "姓名", required=True, personal=True, list=True, max_len=64),
        TemplateColumn("id_number", "身份证", "document", required=True, personal=True, list=True,
                       aliases=("证件号码", "身份证号码", "护照号码")),
        TemplateColumn("phone", "境内手机号", "phone", required=True, personal=True, list=True,
                       aliases=("手机号码", "手机号")),
        TemplateColumn("country", "出发国家/地区", optional=True, max_len=64, aliases=("出发国家",)),
        TemplateColumn("port", "入境口岸", required=True, list=True, max_len=64),
        TemplateColumn("expected_arrival", "预计入境时间", "datetime", required=True, list=True,
                       aliases=("预计到达时间",)),
        TemplateColumn("transport", "预计入境方式", "transport", required=True, list=True,
                       aliases=("预计到达方式",)),
        TemplateColumn("transport_number", "航班(车次/车牌)", list=True, max_len=32,
                       aliases=("航班号", "车次", "航班(车次/车牌号)")),
        TemplateColumn("address", "现住地址", personal=True, optional=True, max_len=255),
        TemplateColumn("district_name", "所属区县", optional=True, max_len=32),
        TemplateColumn("compound", "所属小区", optional=True, max_len=64),
        TemplateColumn("remark", "备注", optional=True, max_len=255),
    ),
    key_columns=("id_number", "expected_arrival"),
    dispatch="compound_or_address", address_columns=("district_name", "address"),
    workflow=Workflow(
        OVERSEAS_STATUSES,
        # The hub acknowledges a new report (已接收) before anyone handles it: the nine outcomes
        # come only after that, so the acknowledgement cannot be skipped (seed 002).
        {"pending": ("received",), "received": ("arrived", "late", *_OUT), "arrived": _OUT,
         "late": ("arrived", *_OUT), **{c: tuple(o for o in _OUT if o != c) for c in _OUT}},
        frozenset(_OUT),
        {"central_isolation": ISOLATED, "home_isolation": ISOLATED, "arrived": Effect("abroad_arrival")},
        {"done": ("已排查（全部）", "done"), "open": ("未排查", "open")}),
    roles=("city", "district", *HUBS), import_roles=("city",), date_column="expected_arrival")

SOURCES: dict[str, Source] = {s.code: s for s in (TELECOM, RAILWAY, POLICE_LIST, BORDER, RISK, FEVER, OVERSEAS)}


def all_sources() -> dict[str, Source]:
    """The investigation lists and the risk lists, by code."""
    # Imported here: the risk lists are built from services.risk_data.risk_records, which reads this module.
    from services.investigations import risk_lists

    return {**SOURCES, **risk_lists.RISK_LISTS}


def get(code: str) -> Source:
    """The source (an investigation or a risk list) of this code (KeyError for an unknown one)."""
    return all_sources()[code]


def importable_by(role: str) -> list[Source]:
    """The lists this role may upload."""
    return [s for s in all_sources().values() if role in s.import_roles]


def hub_transport(role: str) -> str | None:
    """The arrival mode a hub role looks after (飞机 for the airport...), None for other roles."""
    return HUB_ROLES[role][1] if role in HUB_ROLES else None
