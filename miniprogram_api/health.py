"""The citizen's health: my health code (D5) and paper codes, colour history, declarations (D6),
temperatures, entry-to-province registrations (D7), and nearby risk (C9)."""

from __future__ import annotations

import functools

from handlers.base import ApiHandler, Drawing, operation
from miniprogram_api import fields
from handlers.schema import Bool, Date, Int, List, Num, Obj, Open, Str, model, response_model
from services.colours import colour, colour_reasons, colour_scheme
from services.common.paging import MAX_PAGE, MAX_PER_PAGE, paginate
from services.common.timefmt import local_iso
from services.people import declarations, family, health_codes, identity, profile
from services.risk_data import nearby
from services.risk_data.risk_inputs import TRANSPORTS

PAGE = {"page": Int("页码", minimum=1, maximum=MAX_PAGE, required=False),
        "per_page": Int("每页条数", minimum=1, maximum=MAX_PER_PAGE, required=False)}
PAGE_QUERY = model("PageQuery", PAGE)
MEMBER_QUERY = model("MemberQuery", {"member_id": Int("家庭成员编号（不填为本人）", required=False)})
CODE = response_model("SignedCode", {"payload": Str("二维码内容（已签名）"), "issued_at": Str("签发时间"),
                             "expires_at": Str("过期时间")})
HIT_FIELDS = {
    "rule": Str("规则代码"), "colour": Str("该规则赋的颜色"), "reason": Str("原因", max_len=None),
    "guidance": Str("解除指引", max_len=None, nullable=True), "since": Str("起始日期"), "until": Str("截止日期", nullable=True),
    "override": Bool("是否为人工调整", required=False), "batch": Int("来源批次编号", required=False),
    "source": Str("来源批次", max_len=None, required=False)}
HIT = response_model("ColourRuleHit", HIT_FIELDS, description="命中的一条赋码规则")
HIT_SOURCE = response_model("ColourRuleSource", {
    "input": Str("来源名单或记录类型"), "id": Int("记录编号", required=False), "source": Str("来源", max_len=None),
    "list": Str("名单", required=False), "batch": Str("批次", nullable=True, required=False),
    "listed_on": Str("名单日期", nullable=True, required=False), "detail": Str("详情", max_len=None),
    "date": Str("日期"), "entered_at": Str("录入时间", nullable=True), "withdrawn": Bool("是否已撤销")})
EXPLAINED_HIT = response_model("ColourReason", {
    **HIT_FIELDS, "sources": List(Obj(HIT_SOURCE), "来源名单或记录（最新的在前）", max_items=None),
    "lifts": Str("如何解除", max_len=None)}, description="一条赋码原因及其来源、解除方式")
HEALTH_CODE = response_model("HealthCode", {
    "colour": Str("颜色：green / yellow / orange / red / unknown"),
    "colour_label": Str("颜色名称"),
    "reasons": List(Str(), "赋码原因", max_items=None),
    "guidance": List(Str(), "解除指引（红码）", max_items=None),
    "details": List(Obj(EXPLAINED_HIT), "每条原因及其来源、解除方式", max_items=None),
    "computed_at": Str("计算时间"),
    "manual_override": Bool("是否为人工调整（经两人审核，有到期日）"),
    "name": Str("姓名（脱敏）"),
    "id_number": Str("证件号码（脱敏）"),
    "code": Obj(CODE),
}, description="我的健康码：颜色、原因、指引和动态二维码")


def page_model(name: str, item: type, label: str, description: str = "") -> type:
    """A page of `item`s (services.common.paging.paginate's answer)."""
    return response_model(name, {"items": List(Obj(item), label, max_items=MAX_PER_PAGE), "page": Int("页码"),
                                 "per_page": Int("每页条数"), "total": Int("总条数")}, description)


PAPER_CODE = response_model("PaperCode", {"id": Int("编号"), "issued_at": Str("签发时间"), "expires_at": Str("有效期至"),
                                  "revoked": Bool("是否已作废"),
                                  "image_path": Str("图片地址（需登录；已作废或已过期的为 null）", nullable=True)})
PAPER_CODES = response_model("PaperCodes", {"items": List(Obj(PAPER_CODE), "纸质健康码", max_items=None)})
COLOUR_CHANGE = response_model("ColourChange", {
    "from": Str("原颜色", nullable=True), "to": Str("新颜色"), "reasons": List(Str(), "原因", max_items=None),
    "why": Str("变化原因代码，如 close_contact_listed", nullable=True), "why_label": Str("变化原因，如 录入密接名单"),
    "changed_at": Str("变化时间")})
HISTORY = response_model("ColourHistory", {"items": List(Obj(COLOUR_CHANGE), "颜色变化，最新的在前",
                                                         max_items=colour.HISTORY_LIMIT)})
TEMPERATURE = response_model("Temperature", {"id": Int("编号"), "temperature": Num("体温（℃）"), "fever": Bool("是否发热"),
                                             "source": Str("来源"), "measured_at": Str("测量时间")})
TEMPERATURES = page_model("TemperaturesPage", TEMPERATURE, "体温记录，最新的在前")

DECLARATION = model("DeclarationRequest", {
    "kind": Str("申报类型", choices=declarations.SELF_KINDS),
    "organisation": Str("单位或学校", max_len=128, required=False, nullable=True),
    "residence": Str("现住地址", max_len=255),
    "household_registration": Str("户籍地", max_len=255, required=False, nullable=True),
    "health_status": Str("健康状况", choices=tuple(declarations.HEALTH_STATUSES)),
    "temperature": fields.temperature("今日体温", required=False),
    "contact_with_patient": Bool("是否接触过确诊或疑似病例"),
    "returned_from_elsewhere": Bool("是否外地返回", required=False),
    "arrival_date": Date("抵达日期", past=True, required=False, nullable=True),
    "transport": Str("交通方式", choices=tuple(TRANSPORTS), required=False, nullable=True),
    "transport_number": Str("车次/航班/车牌", max_len=32, required=False, nullable=True),
    "from_abroad": Bool("是否境外返回", required=False),
    "country": Str("国家或地区", max_len=64, required=False, nullable=True),
    "origin_code": Str("出发地地区代码（6位）", max_len=6, required=False, nullable=True),
    "origin_name": Str("出发地", max_len=64, required=False, nullable=True),
    "isolation_mode": Str("隔离方式", choices=tuple(declarations.ISOLATION_MODES), required=False, nullable=True),
    "remark": Str("备注", max_len=255, required=False, nullable=True),
}, description="健康申报（郑好码申请表）")
DECLARATION_VIEW = response_model("Declaration", {"id": Int("编号"), "kind": Str("申报类型"), "kind_label": Str("申报类型名称"),
                                          "organisation": Str("单位", nullable=True),
                                          "health_status": Str("健康状况"), "health_status_label": Str("健康状况名称"),
                                          "contact_with_patient": Bool("是否接触病例"), "answers": Open("其他回答"),
                                          "declared_at": Str("申报时间")})
DECLARATIONS = page_model("DeclarationsPage", DECLARATION_VIEW, "健康申报记录，最新的在前")
PROVINCE_ENTRY = model("ProvinceEntryRequest", {
    "entry_date": Date("入省日期", past=True),
    "origin_code": Str("出发地地区代码（6位）", max_len=6, required=False, nullable=True),
    "origin_name": Str("出发地", max_len=64),
    "transport": Str("交通方式", choices=tuple(TRANSPORTS)),
    "transport_number": Str("车次/航班/车牌", max_len=32, required=False, nullable=True),
    "destination": Str("目的地详细地址", max_len=255),
})
PROVINCE_ENTRY_VIEW = response_model("ProvinceEntry", {"id": Int("编号"), "entry_date": Str("入省日期"),
                                               "origin_code": Str("出发地代码", nullable=True),
                                               "origin_name": Str("出发地"), "transport": Str("交通方式"),
                                               "transport_number": Str("车次/航班", nullable=True),
                                               "destination": Str("目的地"), "registered_at": Str("登记时间")})
PROVINCE_ENTRIES = page_model("ProvinceEntriesPage", PROVINCE_ENTRY_VIEW, "入省登记记录，最新的在前")
# The point and radius are checked by services.risk_data.nearby.check_point, with its own codes.
NEARBY_QUERY = model("NearbyRiskQuery", {"lat": Num("纬度", minimum=-90, maximum=90, deferred=True),
                                          "lng": Num("经度", minimum=-180, maximum=180, deferred=True),
                                          "radius": Num("半径（米），默认 3000", minimum=1, maximum=nearby.MAX_RADIUS_M,
                                                        required=False, deferred=True)})
NEARBY_COMPOUND = response_model("NearbyCompound", {
    "compound_code": Str("小区代码"), "name": Str("小区名称"), "address": Str("地址", nullable=True),
    "latitude": Num("纬度"), "longitude": Num("经度"), "confirmed": Int("确诊数"), "suspected": Int("疑似数"),
    "risk_level": Str("风险等级"), "risk_label": Str("风险等级名称"), "distance_m": Num("距离（米）")})
NEARBY = response_model("NearbyRisk", {"items": List(Obj(NEARBY_COMPOUND), "附近有病例的小区，由近及远", max_items=None)})


def _paper_view(code) -> dict:
    return {"id": code.id, "issued_at": local_iso(code.issued_at),
            "expires_at": local_iso(code.expires_at), "revoked": code.revoked_at is not None,
            "image_path": f"/api/v1/me/health-code/paper/{code.id}.png" if health_codes.is_printable(code) else None}


class MyHealthCodeHandler(ApiHandler):
    @operation("getMyHealthCode", "我的（或家庭成员的）健康码：颜色、原因、解除指引、动态二维码", query=MEMBER_QUERY,
               response=HEALTH_CODE, errors=(400, 401, 403))
    def get(self, query):
        person = (family.member_of(self.current_account, query["member_id"]) if query.get("member_id") is not None
                  else profile.require_self_person(self.current_account))
        result = colour.verdict(person.subject).as_dict(colour_scheme.current(self.config))
        result["details"] = colour_reasons.explain(person.subject, result["details"])
        result["manual_override"] = any(h.get("override") for h in result["details"])
        result.update(name=identity.mask_name(person.name), id_number=identity.mask_id_number(person.id_number),
                      code=health_codes.dynamic_code(person, self.config, colour=result["colour"]))
        return result


class MyColourHistoryHandler(ApiHandler):
    @operation("listMyColourHistory", "我的健康码颜色变化记录", response=HISTORY)
    def get(self):
        person = profile.require_self_person(self.current_account)
        items = colour.history(person.subject)
        scheme = colour_scheme.current(self.config)
        for item in items:
            item["from"] = colour.display_colour(item["from"], scheme)
            item["to"] = colour.display_colour(item["to"], scheme)
            item["why_label"] = colour_reasons.why_label(item["why"] or "")
        return {"items": items}


class PaperCodesHandler(ApiHandler):
    @operation("listPaperHealthCodes", "我的纸质健康码", response=PAPER_CODES)
    def get(self):
        person = profile.require_self_person(self.current_account)
        return {"items": [_paper_view(c) for c in health_codes.list_paper_codes(person)]}

    @operation("createPaperHealthCode", "生成纸质健康码（长期有效，可作废）", response=PAPER_CODE, status=201)
    def post(self):
        person = profile.require_self_person(self.current_account)
        code, _ = health_codes.issue_paper_code(person, self.config, issued_by=self.current_account)
        return _paper_view(code)


class PaperCodeHandler(ApiHandler):
    @operation("revokePaperHealthCode", "作废纸质健康码", response=PAPER_CODE, errors=(404,))
    def delete(self, code_id):
        person = profile.require_self_person(self.current_account)
        return _paper_view(health_codes.revoke_paper_code(code_id, person=person))


class PaperCodeImageHandler(ApiHandler):
    @operation("getPaperHealthCodeImage", "纸质健康码图片（PNG，姓名已脱敏；已作废或已过期的为 410）",
               produces="image/png", errors=(404, 410, 503))
    def get(self, code_id):
        person = profile.require_self_person(self.current_account)
        code = health_codes.printable_paper_code(person, code_id)
        payload = health_codes.paper_payload(code, self.config)
        return Drawing(functools.partial(health_codes.paper_code_png, person, payload, code.issued_at))


class DeclarationsHandler(ApiHandler):
    @operation("submitDeclaration", "提交健康申报", body=DECLARATION, response=DECLARATION_VIEW, status=201)
    def post(self, body):
        person = profile.require_self_person(self.current_account)
        return declarations.submit_declaration(person, body, declared_by=self.current_account)

    @operation("listDeclarations", "我的健康申报记录", query=PAGE_QUERY, response=DECLARATIONS)
    def get(self, query):
        person = profile.require_self_person(self.current_account)
        return paginate(declarations.declarations_of(person), declarations.declaration_view, **query)


class TemperaturesHandler(ApiHandler):
    @operation("listTemperatures", "我的体温记录", query=PAGE_QUERY, response=TEMPERATURES)
    def get(self, query):
        person = profile.require_self_person(self.current_account)
        return paginate(declarations.temperatures_of(person), declarations.temperature_view, **query)


class ProvinceEntriesHandler(ApiHandler):
    @operation("registerProvinceEntry", "入省登记", body=PROVINCE_ENTRY, response=PROVINCE_ENTRY_VIEW, status=201)
    def post(self, body):
        person = profile.require_self_person(self.current_account)
        return declarations.register_province_entry(person, body)

    @operation("listProvinceEntries", "我的入省登记记录", query=PAGE_QUERY, response=PROVINCE_ENTRIES)
    def get(self, query):
        person = profile.require_self_person(self.current_account)
        return paginate(declarations.province_entries_of(person), declarations.province_entry_view, **query)


class NearbyRiskHandler(ApiHandler):
    @operation("nearbyRisk", "附近小区风险指数（有病例的小区、确诊数、风险等级、距离）", query=NEARBY_QUERY, response=NEARBY)
    def get(self, query):
        return {"items": nearby.nearby_risk(query["lat"], query["lng"], query.get("radius", 3000))}


def routes(config) -> list:
    """The citizen's health routes."""
    return [
        (r"/api/v1/me/health-code", MyHealthCodeHandler),
        (r"/api/v1/me/health-code/history", MyColourHistoryHandler),
        (r"/api/v1/me/health-code/paper", PaperCodesHandler),
        (r"/api/v1/me/health-code/paper/(?P<code_id>\d+)", PaperCodeHandler),
        (r"/api/v1/me/health-code/paper/(?P<code_id>\d+)\.png", PaperCodeImageHandler),
        (r"/api/v1/me/declarations", DeclarationsHandler),
        (r"/api/v1/me/temperatures", TemperaturesHandler),
        (r"/api/v1/me/province-entries", ProvinceEntriesHandler),
        (r"/api/v1/nearby-risk", NearbyRiskHandler),
    ]
