"""Place types as data (B1): each type's flows, forms, activation form and admission policy.

Adding a type is adding a `PlaceType(...)` to `PLACE_TYPES`; the scan flow, the H5 pages and the
back office read these declarations and have no code path per type.

A flow is what a person scanning is doing there (resident, visitor, passenger ...). Its `form`
is asked on the first scan at a place of this kind (visitor forms: every time), or on every scan
when `ask_every_time` is set (checkpoints, C4). `binds_compound` flows are the "one compound per
person" flows (C5).
"""

from __future__ import annotations

from dataclasses import dataclass

from services.common.errors import ApiError
from services.common.forms import FormField


@dataclass(frozen=True)
class Flow:
    """What a person does at a place of this type."""

    code: str
    label: str
    form: tuple[FormField, ...] = ()
    ask_every_time: bool = False
    binds_compound: bool = False


@dataclass(frozen=True)
class PlaceType:
    """A kind of place (B1)."""

    code: str
    label: str
    category: str  # compound | building | checkpoint | venue | site
    flows: tuple[Flow, ...]
    admits: frozenset = frozenset({"green"})
    pre_generated: bool = False  # handed out as blank codes, activated on the first scan (B3)
    activation_form: tuple[FormField, ...] = ()
    name_field: str = "name"  # the activation answer that names the place
    search_fields: tuple[str, ...] = ("name", "contact_name", "contact_phone")
    # Offers the normal-temperature quick check-in code (C7). Not at checkpoints: there the
    # per-visit travel form is the point of the scan (C4).
    quick_checkin: bool = True

    def flow(self, code: str | None) -> Flow:
        """The flow `code` of this type, or a 400 naming the field."""
        if not code:
            raise ApiError("missing_field", "请选择登记方式", 400, "flow")
        for flow in self.flows:
            if flow.code == code:
                return flow
        raise ApiError("unknown_flow", f"{self.label}没有“{code}”这种登记方式", 400, "flow")

    @property
    def quick_checkin_refusal(self) -> str | None:
        """Why this type offers no quick check-in (C7), or None when it does."""
        if self.quick_checkin:
            return None
        return f"{self.label}为入郑卡口，每次扫码须填写入郑登记信息，不提供体温正常快速打卡"

    def quick_flow(self, code: str | None = None) -> Flow:
        """The flow a quick check-in registers with (C7): `code`, or by default the first flow whose
        form is not asked on every visit. A 400 when this type offers no quick check-in, or when
        `code` is a flow whose form every visit must fill (a compound's visitor)."""
        refusal = self.quick_checkin_refusal
        if refusal:
            raise ApiError("quick_checkin_unavailable", refusal, 400, "quick_checkin")
        if not code:
            return next(f for f in self.flows if not f.ask_every_time)
        flow = self.flow(code)
        if flow.ask_every_time:
            raise ApiError("quick_checkin_unavailable", f"“{flow.label}”每次须填写登记信息，不能使用体温正常快速打卡",
                           400, "flow")
        return flow

    def describe(self) -> dict:
        """The type as clients render it."""
        return {"code": self.code, "label": self.label, "category": self.category,
                "flows": [{"code": f.code, "label": f.label, "ask_every_time": f.ask_every_time,
                           "form": [x.describe() for x in f.form]} for f in self.flows],
                "admits": sorted(self.admits), "quick_checkin": self.quick_checkin}


YES_NO_TRAVEL = (
    FormField("returned_from_elsewhere", "是否外地返回", "bool"),
    FormField("arrival_date", "来郑日期", "date", required=False),
    FormField("from_abroad", "是否国外返回", "bool"),
    FormField("country", "返回国家", required=False),
    FormField("origin_code", "出发地代码", "region_code", required=False),
    FormField("origin_name", "出发地", required=False),
)
COMPOUND_VISITOR = (
    FormField("reason", "来访原因", "choice", choices={"family": "走亲访友", "delivery": "快递外卖", "repair": "维修服务",
                                                     "business": "办事", "other": "其他"}),
    FormField("visited_name", "所访人姓名"),
    FormField("visited_phone", "所访人电话", "phone", required=False),
    FormField("building", "所访人楼号", max_len=32),
    FormField("unit", "所访人单元号", required=False, max_len=32),
    FormField("room", "所访人房间号", max_len=32),
)
BUILDING_VISITOR = (
    FormField("visited_company", "到访工作单位名称", max_len=128),
    FormField("contact_name", "到访联系人姓名"),
    FormField("contact_phone", "到访联系人电话", "phone", required=False),
)
CHECKPOINT_FORM = (
    FormField("arrival_date", "来郑日期", "date", today=True),  # 来郑日期为当天 (seed 002)
    FormField("from_abroad", "是否国外返回", "bool"),
    FormField("country", "返回国家", required=False),
    FormField("origin_code", "出发地代码", "region_code", required=False),
    FormField("origin_name", "出发地"),
    FormField("transport_number", "航班号/车次", required=False, max_len=32),
)
CONTACT = (FormField("contact_name", "联系人姓名"), FormField("contact_phone", "联系人手机号", "phone"))
DISTRICT = FormField("district_code", "所属区县代码", "region_code")

RESIDENT = Flow("resident", "我是住户", binds_compound=True)
VISITOR = Flow("visitor", "我是访客", COMPOUND_VISITOR, ask_every_time=True)
TRAVELLER = Flow("traveller", "入郑登记", CHECKPOINT_FORM, ask_every_time=True)


def _venue(code: str, label: str, flow_label: str, activation: tuple[FormField, ...], name_field: str = "name",
           search_fields: tuple[str, ...] = ("name", "contact_name", "contact_phone"),
           admits: frozenset = frozenset({"green"})) -> PlaceType:
    return PlaceType(code, label, "venue", (Flow("customer", flow_label, YES_NO_TRAVEL),), admits=admits,
                     pre_generated=True, activation_form=activation, name_field=name_field,
                     search_fields=search_fields)


EVERYONE = frozenset({"green", "yellow", "orange", "red"})

PLACE_TYPES: dict[str, PlaceType] = {t.code: t for t in (
    PlaceType("compound", "小区", "compound", (RESIDENT, VISITOR)),
    PlaceType("village", "村", "compound", (Flow("resident", "我是村民", binds_compound=True), VISITOR)),
    PlaceType("virtual_compound", "虚拟小区", "compound", (RESIDENT, VISITOR)),
    # People are brought to isolation and test points whatever their colour.
    PlaceType("isolation_point", "隔离点", "site", (Flow("isolated", "隔离人员登记"),), admits=EVERYONE),
    PlaceType("test_point", "核酸检测点", "site", (Flow("tested", "检测登记"),), admits=EVERYONE),
    PlaceType("office_building", "楼宇", "building",
              (Flow("worker", "我要上班", (FormField("employer", "工作单位名称", max_len=128),)),
               Flow("visitor", "我是访客", BUILDING_VISITOR, ask_every_time=True))),
    # Arrivals are registered, not turned back: the colour and the alert go to the staff on duty.
    PlaceType("airport", "机场", "checkpoint", (TRAVELLER,), admits=EVERYONE, quick_checkin=False),
    PlaceType("hsr_station", "高铁站", "checkpoint", (TRAVELLER,), admits=EVERYONE, quick_checkin=False),
    PlaceType("railway_station", "火车站", "checkpoint", (TRAVELLER,), admits=EVERYONE, quick_checkin=False),
    _venue("metro", "地铁站", "地铁乘客", (FormField("name", "地铁站名称"), FormField("line", "线路"), *CONTACT)),
    _venue("bus", "公交", "公交乘客", (FormField("route", "公交线路"), FormField("plate", "车牌号", "plate"), *CONTACT),
           name_field="route", search_fields=("route", "plate", "contact_name", "contact_phone")),
    _venue("taxi", "出租车", "出租乘客", (FormField("company", "公司名称", max_len=128),
                                     FormField("plate", "车牌号", "plate"), *CONTACT),
           name_field="plate", search_fields=("company", "plate", "contact_name", "contact_phone")),
    _venue("supermarket", "商超", "商超顾客", (FormField("name", "商超名称", max_len=128), DISTRICT,
                                          FormField("credit_code", "统一社会信用代码", "credit_code"), *CONTACT),
           search_fields=("name", "credit_code", "contact_name", "contact_phone")),
    _venue("farmers_market", "农贸市场", "农贸市场顾客", (FormField("name", "市场名称", max_len=128), DISTRICT, *CONTACT)),
    _venue("professional_market", "专业市场", "专业市场顾客",
           (FormField("name", "市场名称", max_len=128), DISTRICT, *CONTACT)),
    _venue("company_shuttle", "公司班车", "班车乘客", (FormField("company", "公司名称", max_len=128),
                                                FormField("plate", "车牌号", "plate"), *CONTACT),
           name_field="plate", search_fields=("company", "plate", "contact_name", "contact_phone")),
    # Patients must reach care whatever their colour; the colour is shown to the staff.
    _venue("medical", "医疗机构", "就诊人员", (FormField("name", "医疗机构名称", max_len=128), DISTRICT, *CONTACT),
           admits=EVERYONE),
    _venue("public_service", "公共服务", "办事群众", (FormField("name", "单位名称", max_len=128), DISTRICT,
                                              FormField("credit_code", "统一社会信用代码", "credit_code"), *CONTACT),
           search_fields=("name", "credit_code", "contact_name", "contact_phone")),
    _venue("scenic_spot", "景区", "游客", (FormField("name", "景区名称", max_len=128), DISTRICT, *CONTACT)),
    _venue("other", "其他", "来访人员", (FormField("name", "名称", max_len=128), DISTRICT, *CONTACT)),
)}


def place_type(code: str) -> PlaceType:
    """The declared type `code`, or a 400."""
    try:
        return PLACE_TYPES[code]
    except KeyError:
        raise ApiError("unknown_place_type", f"未知的场所类型：{code}", 400, "place_type") from None


def _check_declarations() -> None:
    # A misspelt declaration must fail at import, not at the first scan of the morning.
    for t in PLACE_TYPES.values():
        assert t.flows, t.code
        assert len({f.code for f in t.flows}) == len(t.flows), t.code
        assert t.admits <= EVERYONE and "green" in t.admits, t.code
        # A checkpoint's form is asked on every scan: a quick check-in there would skip it (C4, C7).
        assert not (t.quick_checkin and t.category == "checkpoint"), t.code
        assert not t.quick_checkin or any(not f.ask_every_time for f in t.flows), t.code
        if t.pre_generated:
            names = {f.name for f in t.activation_form}
            assert t.name_field in names, t.code
            assert set(t.search_fields) <= names, t.code


_check_declarations()
