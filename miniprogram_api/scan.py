"""The public scan flow (C1-C8, C10), family members and proxy identities (A7, A8), and a place's
own codes for whoever administers it (B2, B3)."""

from __future__ import annotations

from handlers.base import ApiHandler, Drawing, operation
from handlers import shedding
from miniprogram_api import fields
from handlers.schema import Bool, Either, Int, List, Num, Obj, Open, Str, model, response_model
from miniprogram_api.citizen import PROFILE_UPDATE
from miniprogram_api.health import PAGE, page_model
from services.common.paging import paginate
from services.fieldwork import place_admin
from services.people import family, identity, profile
from services.scanning import scans
from services.venues import places

IDENTITY = model("ScanIdentity", {
    "name": Str("姓名", max_len=64),
    "id_type": Str("证件类型", choices=tuple(identity.ID_TYPES), required=False),
    "id_number": Str("证件号码", max_len=32),
    "phone": fields.phone("手机号码", required=False, nullable=True),
}, description="代他人登记时被登记人的身份")
SCAN = model("ScanRequest", {
    "code": Str("场所码（二维码中的 token）", max_len=64),
    "screen_code": Str("现场屏幕场所码的校验串（二维码链接中 sc= 的值；扫描张贴的场所码时不填）", max_len=64,
                       pattern=r"^\d{1,12}\.[A-Za-z0-9_-]{22}$", required=False, nullable=True, deferred=True,
                       example="59281234.Qm9vaGJiYmJiYmJiYmJiYg"),
    "flow": Str("登记方式，如 resident、visitor、customer、traveller（体温正常快速打卡可不填：用场所的默认登记方式）",
                max_len=32, required=False, nullable=True),
    "request_id": fields.request_id("客户端生成的请求编号（重试时不变）"),
    "form": Open("登记方式要求的表单", required=False, nullable=True),
    "temperature": fields.temperature("体温（℃）", required=False, nullable=True),
    "quick_checkin": Bool("体温正常快速打卡：默认体温正常，不填登记表（卡口不提供；体温≥37.3℃不可用）", required=False),
    "profile": Obj(PROFILE_UPDATE, "首次扫码时填写的个人信息", required=False, nullable=True),
    "member_id": Int("为家庭成员扫码时的成员编号", required=False, nullable=True),
    "proxy_identity_id": Int("使用本机已登记的他人身份", required=False, nullable=True),
    "identity": Obj(IDENTITY, "代他人登记（新身份）", required=False, nullable=True),
})
PLACE_FIELDS = {"id": Int("场所编号"), "name": Str("名称"), "type": Str("类型"), "type_label": Str("类型名称"),
                "address": Str("地址", nullable=True)}
PLACE = response_model("Place", PLACE_FIELDS)
ALERT = response_model("ScanAlert", {"flash": Bool("闪烁红色"), "sound": Bool("响铃"), "message": Str("提示")})
VERDICT = response_model("ScanVerdict", {
    "colour": Str("颜色"), "colour_label": Str("颜色名称"), "reasons": List(Str(), "原因", max_items=None),
    "guidance": List(Str(), "解除指引", max_items=None), "admit": Bool("是否允许通行"), "admit_label": Str("允许通行 / 禁止通行"),
    "place": Obj(PLACE, "场所"), "flow": Str("登记方式"), "flow_label": Str("登记方式名称"), "source": Str("来源"),
    "name_masked": Str("姓名（脱敏）"), "id_masked": Str("证件号码（脱敏）"),
    "registered_at": Str("服务器登记时间（+08:00）"), "alert": Obj(ALERT, "重点人员提示：闪烁红色并响铃", nullable=True),
    "quick_checkin": Bool("体温正常快速打卡", required=False),
    "temperature_label": Str("体温（快速打卡：体温正常）", required=False),
})
ACTIVATE = model("ActivatePlaceCode", {"form": Open("激活表单")})
MEMBER_NEW = model("FamilyMemberRequest", {
    "name": Str("姓名", max_len=64),
    "relationship": Str("与本人关系", choices=tuple(family.RELATIONSHIPS)),
    "id_type": Str("证件类型", choices=tuple(identity.ID_TYPES), required=False),
    "id_number": Str("证件号码", max_len=32),
    "phone": fields.phone("手机号码", required=False, nullable=True),
})
MEMBER = response_model("FamilyMember", {"id": Int("编号"), "name": Str("姓名（脱敏）"), "id_number": Str("证件号码（脱敏）"),
                                 "id_type": Str("证件类型"), "relationship": Str("关系", nullable=True),
                                 "relationship_label": Str("关系名称", nullable=True),
                                 "phone": Str("手机号（脱敏）", nullable=True),
                                 "consent_status": Str("家庭成员的授权：not_needed 未满14周岁无需同意 / pending 待本人同意 / "
                                                       "granted 已同意 / withdrawn 已撤回", required=False),
                                 "consent_label": Str("授权状态名称", required=False)})
MEMBERS = response_model("FamilyMembers", {"items": List(Obj(MEMBER), "成员", max_items=family.MAX_MEMBERS)})
PROXIES = response_model("ProxyIdentities", {"items": List(Obj(MEMBER), "代登记过的身份", max_items=family.MAX_PROXIES)})
REMOVED = response_model("Removed", {"removed": Bool("已删除")})
ENTRIES_QUERY = model("EntriesQuery", {**PAGE, "member_id": Int("家庭成员编号（不填为本人）", required=False)})
CODE_QUERY = model("PlaceCodeImageQuery", {"format": Str("png、svg、poster.png 或 poster.pdf", max_len=16,
                                                          required=False)})
ENTRY = response_model("MyEntry", {"id": Int("编号"), "place": Str("场所"), "type_label": Str("场所类型"),
                                   "flow": Str("登记方式", nullable=True), "source": Str("来源"), "colour": Str("颜色"),
                                   "admitted": Bool("是否允许通行"), "temperature": Num("体温（℃）", nullable=True),
                                   "registered_at": Str("登记时间")})
ENTRIES = page_model("MyEntriesPage", ENTRY, "出入记录，最新的在前")
CHOICE = response_model("FormChoice", {"value": Str("取值"), "label": Str("名称")})
FORM_FIELD = response_model("FormField", {
    "name": Str("字段名（提交 form 时的键）"), "label": Str("名称"), "kind": Str("类型：text、bool、date、choice、phone 等"),
    "required": Bool("是否必填"), "today": Bool("默认今天（日期）", required=False),
    "choices": List(Obj(CHOICE), "可选项（choice）", max_items=None, required=False)})
FORM = List(Obj(FORM_FIELD), "表单字段", max_items=None)
FLOW = {"code": Str("登记方式"), "label": Str("登记方式名称"), "ask_every_time": Bool("是否每次都填写表单"), "form": FORM}
PLACE_TYPE = response_model("PlaceType", {
    "code": Str("场所类型"), "label": Str("类型名称"), "category": Str("类别"),
    "flows": List(Obj(response_model("PlaceTypeFlow", FLOW)), "登记方式", max_items=None),
    "admits": List(Str(), "允许通行的颜色", max_items=None), "quick_checkin": Bool("是否提供体温正常快速打卡")})
QUICK = response_model("QuickCheckin", {"offered": Bool("是否提供"), "flow": Str("默认登记方式", required=False),
                                        "message": Str("不提供的原因", required=False)})
MY_COMPOUND = response_model("MyCompound", {"is_this_compound": Bool("是否为本小区"), "name": Str("我绑定的小区")})
PLACE_INFO = response_model("PlaceByCode", {
    "status": Str("blank（待激活）或 active"), "place": Obj(PLACE, "场所", required=False),
    "type": Either(Str(), Obj(PLACE_TYPE), label="场所类型：待激活的码为类型代码，已激活的为类型及登记方式"),
    "type_label": Str("类型名称（待激活）", required=False),
    "flows": List(Obj(response_model("PlaceFlow", {**FLOW, "form_needed": Bool("本人这次是否需要填写表单")})),
                  "登记方式及表单", max_items=None, required=False),
    "quick_checkin": Obj(QUICK, "体温正常快速打卡", required=False),
    "needs_profile": Bool("是否需要先填写个人信息", required=False),
    "my_compound": Obj(MY_COMPOUND, "我绑定的小区", required=False, nullable=True),
    "family": List(Obj(MEMBER), "可代其扫码的家庭成员", max_items=family.MAX_MEMBERS, required=False),
    "proxy_identities": List(Obj(MEMBER), "本机代登记过的身份", max_items=family.MAX_PROXIES, required=False),
    "activation_form": List(Obj(FORM_FIELD), "激活表单（待激活）", max_items=None, required=False)})
REISSUED = response_model("ReissuedCode", {"token": Str("新的场所码"), "url": Str("二维码内容")})


class PlaceByCodeHandler(ApiHandler):
    @operation("getPlaceByCode", "扫描场所码：场所信息、登记方式和需要填写的表单", response=PLACE_INFO, errors=(404, 409))
    def get(self, token):
        return scans.describe_code(token, self.current_account)


class ActivatePlaceCodeHandler(ApiHandler):
    @operation("activatePlaceCode", "激活预先生成的场所码（首次扫码的领取人填写激活信息）", body=ACTIVATE, response=PLACE,
               status=201, errors=(404, 409))
    def post(self, token, body):
        return places.place_view(places.activate(token, body["form"], self.current_account))


class ScanHandler(ApiHandler):
    shed_priority = shedding.SCAN
    signs_in_itself = True  # the token is read with the scan's other rows (services/scanning/scans.py)
    database_on_loop = True  # on SQLite: its one statement of reads costs less than a pool hop

    @operation("scanPlace", "扫码登记：按场所类型的登记方式登记并返回核验结果", body=SCAN, response=VERDICT,
               errors=(403, 404, 409, 503),
               description="现场屏幕上的场所码每 30 秒（SCREEN_CODE_WINDOW_SECONDS）更换一次，二维码链接为 /s/{token}?sc=...："
               "扫描时把 sc 的值放在 screen_code 中。超过两个时间窗口的屏幕码返回 400 screen_code_expired"
               "（请扫描现场屏幕上的最新场所码），伪造的返回 400 screen_code_invalid；只接受屏幕码的场所扫描张贴的场所码返回 409 "
               "screen_code_required。")
    async def post(self, body):
        # A common scan awaits the group commit of its entry record (services/scanning/entry_writer.py).
        return await scans.scan(self.bearer_token, body, self.config)


class MyEntriesHandler(ApiHandler):
    @operation("listMyEntries", "我的（或家庭成员的）出入记录", query=ENTRIES_QUERY, response=ENTRIES, errors=(403,))
    def get(self, query):
        member_id = query.pop("member_id", None)
        person = (family.member_of(self.current_account, member_id) if member_id is not None
                  else profile.require_self_person(self.current_account))
        return paginate(scans.entries_of(person), scans.entry_view, **query)


class FamilyHandler(ApiHandler):
    @operation("listFamilyMembers", "我的家庭成员", response=MEMBERS)
    def get(self):
        return {"items": [family.member_view(p) for p in family.family_members(self.current_account)]}

    @operation("addFamilyMember", "添加家庭成员（老人、儿童等）；已满14周岁的须经其本人同意（sendFamilyConsentCode / "
               "本人账号 grantFamilyConsent）后才能查看其健康码、代其扫码", body=MEMBER_NEW, response=MEMBER, status=201,
               errors=(409,))
    def post(self, body):
        return family.member_view(family.add_family_member(self.current_account, body))


class FamilyMemberHandler(ApiHandler):
    @operation("removeFamilyMember", "删除家庭成员", response=REMOVED, errors=(403,))
    def delete(self, member_id):
        family.detach(self.current_account, member_id)
        return {"removed": True}


class ProxyIdentitiesHandler(ApiHandler):
    @operation("listProxyIdentities", "本机代登记过的身份（登记信息确认）", response=PROXIES)
    def get(self):
        return {"items": [family.member_view(p) for p in family.proxy_identities(self.current_account)]}


class ProxyIdentityHandler(ApiHandler):
    @operation("deleteProxyIdentity", "删除本机代登记过的身份", response=REMOVED, errors=(403,))
    def delete(self, identity_id):
        family.detach(self.current_account, identity_id, relation="proxy")
        return {"removed": True}


class PlaceCodeImageHandler(ApiHandler):
    @operation("getPlaceCodeImage", "下载场所码：二维码 PNG / SVG，或打印海报 PNG / PDF", query=CODE_QUERY,
               produces="image/png, image/svg+xml, application/pdf", errors=(403,))
    def get(self, place_id, query):
        place = place_admin.administered_place(self.current_account, place_id)
        return Drawing(*places.code_image(place, query.get("format") or "png", self.config))


class ReissuePlaceCodeHandler(ApiHandler):
    @operation("reissuePlaceCode", "作废旧码并重新生成场所码（海报被涂改或覆盖时）", response=REISSUED, errors=(403,))
    def post(self, place_id):
        code = places.reissue(place_admin.administered_place(self.current_account, place_id))
        return {"token": code.token, "url": places.code_url(self.config, code.token)}


def routes(config) -> list:
    """The scan, family and place-code routes."""
    token = r"(?P<token>[A-Za-z0-9_\-]{1,64})"
    return [
        (rf"/api/v1/places/by-code/{token}", PlaceByCodeHandler),
        (rf"/api/v1/place-codes/{token}/activate", ActivatePlaceCodeHandler),
        (r"/api/v1/scans", ScanHandler),
        (r"/api/v1/me/entries", MyEntriesHandler),
        (r"/api/v1/me/family", FamilyHandler),
        (r"/api/v1/me/family/(?P<member_id>\d+)", FamilyMemberHandler),
        (r"/api/v1/me/proxy-identities", ProxyIdentitiesHandler),
        (r"/api/v1/me/proxy-identities/(?P<identity_id>\d+)", ProxyIdentityHandler),
        (r"/api/v1/places/(?P<place_id>\d+)/code", PlaceCodeImageHandler),
        (r"/api/v1/places/(?P<place_id>\d+)/code/reissue", ReissuePlaceCodeHandler),
    ]
