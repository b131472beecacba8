"""A citizen's say over their data (N4, N10): an adult family member's consent, asked by the
account that added them (a code sent to the member's phone) or given from the member's own
account, and withdrawn there; and the citizen's access log, `listMyDataAccess` (PIPL Art. 45):
which organisation viewed, exported or changed their record, when and why."""

from __future__ import annotations

from handlers.base import ApiHandler, operation
from handlers.schema import Int, List, Obj, Str, model, response_model
from miniprogram_api import fields
from miniprogram_api.health import PAGE, page_model
from miniprogram_api.scan import MEMBER
from services.oversight import access_log
from services.people import family

CONSENT_CODE_REQUEST = model("FamilyConsentCodeRequest", {
    "phone": fields.phone("该成员本人的手机号（未登记或需更换时填写；其本人账号已验证手机号的，发到该手机）",
                          required=False, nullable=True),
}, description="向已满14周岁的家庭成员发送授权验证码")
CONSENT_CODE_SENT = response_model("FamilyConsentCodeSent", {"status": Str("授权状态"), "status_label": Str("授权状态名称"),
                                                     "sent_to": Str("验证码发往的手机号（脱敏）")})
CONSENT_CONFIRM = model("FamilyConsentConfirmRequest", {
    "code": Str("该成员收到的6位短信验证码", min_len=6, max_len=6, pattern=r"[0-9]{6}"),
})
CONSENT = response_model("FamilyConsentRequest", {
    "id": Int("编号"), "added_by": Str("添加人（脱敏）"), "added_by_phone": Str("添加人手机号（脱敏）", nullable=True),
    "relationship_label": Str("添加人登记的关系", nullable=True), "added_at": Str("添加时间"),
    "status": Str("授权状态：pending 待同意 / granted 已同意 / withdrawn 已撤回 / not_needed 无需同意"),
    "status_label": Str("授权状态名称"),
}, description="把我添加为家庭成员的账号及我的授权")
CONSENTS = response_model("FamilyConsentRequests", {
    "items": List(Obj(CONSENT), "把我添加为家庭成员的账号（字段同 FamilyConsentRequest）",
                                                          max_items=None)})
ACCESS = response_model("DataAccess", {
    "time": Str("时间"), "organisation": Str("单位"), "role": Str("角色"), "official": Str("经办人（脱敏）"),
    "action": Str("view / export / colour / isolation"), "action_label": Str("查看 / 导出 / 变更赋码颜色 / 变更隔离状态"),
    "what": Str("具体事项", max_len=None), "purpose": Str("用途或理由", max_len=None, nullable=True)})
ACCESSES = page_model("DataAccessPage", ACCESS, "访问记录，最新的在前")
ACCESS_QUERY = model("DataAccessQuery", {**PAGE, "member_id": Int("家庭成员编号（不填为本人；须为未满14周岁或已同意的成员）",
                                                                   required=False)})


class FamilyConsentCodeHandler(ApiHandler):
    @operation("sendFamilyConsentCode", "向已满14周岁的家庭成员发送授权验证码（其同意后才能查看其健康码、代其扫码）",
               body=CONSENT_CODE_REQUEST, response=CONSENT_CODE_SENT, errors=(400, 403, 409, 429, 503))
    def post(self, member_id, body):
        return family.send_consent_code(self.current_account, member_id, body.get("phone"), self.request.remote_ip)


class FamilyConsentHandler(ApiHandler):
    @operation("confirmFamilyConsent", "填写家庭成员收到的验证码，完成其授权", body=CONSENT_CONFIRM, response=MEMBER,
               errors=(400, 403, 409, 429))
    def post(self, member_id, body):
        return family.confirm_consent_code(self.current_account, member_id, body["code"])


class MyConsentsHandler(ApiHandler):
    @operation("listFamilyConsentRequests", "把我添加为家庭成员的账号及我的授权（本人账号）", response=CONSENTS,
               errors=(400,))
    def get(self):
        return {"items": family.consents_about_me(self.current_account)}


class MyConsentHandler(ApiHandler):
    @operation("grantFamilyConsent", "同意该账号查看我的健康码、为我扫码（本人账号确认）", response=CONSENT,
               errors=(400, 403, 409))
    def post(self, member_id):
        return family.grant_from_account(self.current_account, member_id)

    @operation("withdrawFamilyConsent", "撤回（或拒绝）该账号的授权", response=CONSENT, errors=(400, 403, 409))
    def delete(self, member_id):
        return family.withdraw_from_account(self.current_account, member_id)


class MyDataAccessHandler(ApiHandler):
    @operation("listMyDataAccess", "我的个人信息被访问记录：哪个单位、什么角色、何时、为何查看、导出或变更了我的信息",
               query=ACCESS_QUERY, response=ACCESSES, errors=(400, 403),
               description="每条：time 时间、organisation 单位、role 角色、official 经办人（脱敏）、action view / "
                           "export / colour / isolation、action_label 查看 / 导出 / 变更赋码颜色 / 变更隔离状态、"
                           "what 具体事项、purpose 用途或理由。最新的在前。")
    def get(self, query):
        member_id = query.pop("member_id", None)
        return access_log.my_access(self.current_account, member_id, **query)


def routes(config) -> list:
    """The consent and access-log routes."""
    return [
        (r"/api/v1/me/family/(?P<member_id>\d+)/consent/code", FamilyConsentCodeHandler),
        (r"/api/v1/me/family/(?P<member_id>\d+)/consent", FamilyConsentHandler),
        (r"/api/v1/me/family-consents", MyConsentsHandler),
        (r"/api/v1/me/family-consents/(?P<member_id>\d+)", MyConsentHandler),
        (r"/api/v1/me/data-access", MyDataAccessHandler),
    ]
