"""Inspectors (B5, E1, E5, N7): bind places with their declaration code, verify citizens' codes
(medical staff too), record temperature checks (also those queued offline), their counts, and the
keys and revocation list an inspector's page caches to verify codes offline."""

from __future__ import annotations

from handlers.base import ApiHandler, operation
from handlers import shedding
from miniprogram_api import fields
from handlers.schema import Bool, Int, List, Num, Obj, Open, Str, model, response_model
from miniprogram_api.health import DECLARATION_VIEW
from miniprogram_api.scan import PLACE, PLACE_FIELDS
from services.colours import colour, colour_scheme
from services.fieldwork import place_admin
from services.people import declarations, health_codes, identity

VERIFY = model("VerifyHealthCodeRequest", {"payload": Str("扫描到的健康码内容（动态码、纸质码或截图中的码）", max_len=2048)})
VERIFIED = response_model("VerifiedHealthCode", {
    "code_kind": Str("dynamic（动态码）或 paper（纸质码）"),
    "issued_at": Str("签发时间"),
    "name": Str("姓名（脱敏）"),
    "id_number": Str("证件号码（脱敏）"),
    "phone": Str("手机号（脱敏）", nullable=True),
    "colour": Str("当前颜色"),
    "colour_label": Str("颜色名称"),
    "reasons": List(Str(), "赋码原因", max_items=None),
    "guidance": List(Str(), "解除指引", max_items=None),
    "latest_declaration": Obj(DECLARATION_VIEW, "最近一次健康申报", nullable=True),
})


BIND_PLACE = model("BindPlaceRequest", {"declaration_code": Str("场所申报码", max_len=32)})
INSPECTOR_PLACE = response_model("InspectorPlace", {
    **PLACE_FIELDS, "is_current": Bool("是否为当前场所"), "bound_at": Str("绑定时间"),
    "quick_checkin_url": Str("体温正常快速打卡码内容（卡口不提供：null）", nullable=True)})
INSPECTOR_PLACES = response_model("InspectorPlaces", {
    "items": List(Obj(INSPECTOR_PLACE), "绑定的场所（当前场所在前），含快速打卡码", max_items=None)})
CHECK = model("TemperatureCheckRequest", {
    "payload": Str("市民健康码内容（动态码、纸质码或截图中的码）", max_len=2048),
    "result": Str("体温结果", choices=("normal", "fever")),
    "temperature": fields.temperature("体温（℃，选填）", required=False, nullable=True),
    "place_id": Int("登记场所（不填为当前场所）", required=False, nullable=True),
    "request_id": fields.request_id("客户端生成的请求编号（离线排队的登记重发时不变，同一编号只登记一次）"),
    "checked_at": Str("离线登记的时间（ISO 8601，带时区；联网登记不填）：按该时间核验健康码，"
                      f"最多补传 {place_admin.OFFLINE_CHECK_MAX_HOURS} 小时内的登记",
                      max_len=40, pattern=r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})",
                      required=False, nullable=True, example="2020-02-01T08:30:00+08:00"),
})
CHECK_RESULT = response_model("TemperatureCheckResult", {
    "colour": Str("颜色"), "colour_label": Str("颜色名称"), "reasons": List(Str(), "原因", max_items=None),
    "guidance": List(Str(), "解除指引", max_items=None), "admit": Bool("是否允许进入"), "result": Str("normal / fever"),
    "temperature": Num("体温", nullable=True), "place": Obj(PLACE, "场所"), "name_masked": Str("姓名（脱敏）"),
    "phone_masked": Str("手机号（脱敏）", nullable=True), "registered_at": Str("登记时间")})
OFFLINE_LIST = response_model("OfflineVerificationList", {
    "algorithm": Str("签名算法（Ed25519）"),
    "prefix": Str("健康码前缀（HC1）"),
    "version": Int("健康码格式版本"),
    "keys": Open("验签公钥：密钥编号 -> Base64 编码的 32 字节 Ed25519 公钥"),
    "revoked_paper_codes": List(Int(), "已作废且尚未过期的纸质健康码编号", max_items=None),
    "generated_at": Str("名单生成时间（离线核验时显示）"),
    "generated_at_unix": Int("名单生成时间（Unix 秒）"),
    "clock_skew_seconds": Int("允许的时钟偏差（秒）"),
    "stale_after_seconds": Int("名单超过多久未更新时提示（秒）"),
}, description="离线核验所需的公钥和作废名单（检测员页面缓存后断网也能验码）")
STATS = response_model("RegistrationStats", {"today": Int("今日登记人次"), "total": Int("累计登记人次")})
DONE = response_model("Done", {"ok": Bool("完成")})


class InspectorPlacesHandler(ApiHandler):
    @operation("bindPlace", "检测员通过场所申报码绑定场所", body=BIND_PLACE, response=INSPECTOR_PLACES, status=201,
               errors=(404,))
    def post(self, body):
        place_admin.bind_place(self.current_account, body["declaration_code"])
        return {"items": place_admin.inspector_places(self.current_account, self.config)}

    @operation("listInspectorPlaces", "我绑定的场所", response=INSPECTOR_PLACES)
    def get(self):
        return {"items": place_admin.inspector_places(self.current_account, self.config)}


class InspectorPlaceHandler(ApiHandler):
    roles = ("inspector",)

    @operation("unbindPlace", "解绑场所", response=DONE, errors=(403,))
    def delete(self, place_id):
        place_admin.unbind_place(self.current_account, int(place_id))
        return {"ok": True}


class CurrentPlaceHandler(ApiHandler):
    roles = ("inspector",)

    @operation("setCurrentPlace", "切换当前场所", response=DONE, errors=(403,))
    def put(self, place_id):
        place_admin.set_current(self.current_account, int(place_id))
        return {"ok": True}


class TemperatureCheckHandler(ApiHandler):
    roles = ("inspector",)
    shed_priority = shedding.SCAN

    @operation("recordTemperatureCheck", "扫码核验并登记体温（正常 / 发热），生成本场所的登记记录", body=CHECK,
               response=CHECK_RESULT, errors=(403, 409))
    def post(self, body):
        return place_admin.record_temperature_check(self.current_account, body, self.config)


class InspectorStatsHandler(ApiHandler):
    roles = ("inspector",)

    @operation("getInspectorStats", "我的登记人次：今日和累计", response=STATS)
    def get(self):
        return place_admin.inspector_stats(self.current_account)


class VerifyHealthCodeHandler(ApiHandler):
    roles = ("inspector", "medical")
    shed_priority = shedding.SCAN

    @operation("verifyHealthCode", "核验健康码：验签、有效期、作废状态，返回脱敏身份和当前颜色", body=VERIFY,
               response=VERIFIED, errors=(400, 403))
    def post(self, body):
        person, claims = health_codes.resolve(body["payload"], self.config)
        verdict = colour.verdict(person.subject).as_dict(colour_scheme.current(self.config))
        return {
            "code_kind": "paper" if claims["t"] == health_codes.KIND_PAPER else "dynamic",
            "issued_at": health_codes.issued_at_of(claims),
            "name": identity.mask_name(person.name),
            "id_number": identity.mask_id_number(person.id_number),
            "phone": identity.mask_phone(person.phone) or None,
            "colour": verdict["colour"], "colour_label": verdict["colour_label"],
            "reasons": verdict["reasons"], "guidance": verdict["guidance"],
            "latest_declaration": declarations.latest_declaration(person),
        }


class OfflineListHandler(ApiHandler):
    roles = ("inspector", "medical")

    @operation("getOfflineVerificationList", "离线核验名单：验签公钥和已作废的纸质码（检测员页面缓存后离线验码）",
               response=OFFLINE_LIST, errors=(403,))
    def get(self):
        return health_codes.offline_list(self.config)


def routes(config) -> list:
    """The inspector routes."""
    return [
        (r"/api/v1/health-codes/verify", VerifyHealthCodeHandler),
        (r"/api/v1/health-codes/offline-list", OfflineListHandler),
        (r"/api/v1/inspector/places", InspectorPlacesHandler),
        (r"/api/v1/inspector/places/(?P<place_id>\d+)", InspectorPlaceHandler),
        (r"/api/v1/inspector/places/(?P<place_id>\d+)/current", CurrentPlaceHandler),
        (r"/api/v1/inspector/checks", TemperatureCheckHandler),
        (r"/api/v1/inspector/stats", InspectorStatsHandler),
    ]
