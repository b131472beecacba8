"""Medical staff (E4): release-from-medical-observation e-notices; the citizen's own notice."""

from __future__ import annotations

from handlers.base import ApiHandler, operation
from handlers.schema import Bool, Int, List, Str, model, response_model
from miniprogram_api.health import MEMBER_QUERY, PAGE_QUERY, page_model
from services.common.paging import paginate
from services.fieldwork import release_notices
from services.people import family, profile

PREPARE = model("PrepareReleaseNoticeRequest", {"payload": Str("医学观察对象的健康码内容", max_len=2048)})
PREPARED = response_model("ReleaseNoticeForm", {"person_id": Int("人员编号"), "name": Str("姓名（脱敏）"),
                                        "id_number": Str("证件号码（脱敏）"), "phone": Str("手机号（脱敏）", nullable=True),
                                        "gender": Str("性别", nullable=True), "address": Str("地址", nullable=True),
                                        "observations": List(Str(), "将解除的医学观察原因", max_items=None),
                                        "institution": Str("出具单位"), "staff_name": Str("出具人（脱敏）"),
                                        "issue_date": Str("出具日期")})
ISSUE = model("IssueReleaseNoticeRequest", {
    "payload": Str("医学观察对象的健康码内容", max_len=2048),
    "institution": Str("出具单位（不填为开通权限时登记的单位）", max_len=128, required=False, nullable=True),
    "remark": Str("备注", max_len=255, required=False, nullable=True),
})
NOTICE = response_model("ReleaseNotice", {"id": Int("编号"), "number": Str("告知书编号"),
                                  "name": Str("姓名（脱敏）", nullable=True),
                                  "id_number": Str("证件号码（脱敏）", nullable=True), "institution": Str("出具单位"),
                                  "staff_name": Str("出具人（脱敏）"), "issue_date": Str("解除日期"),
                                  "issued_at": Str("出具时间"), "valid": Bool("是否有效"),
                                  "remark": Str("备注", nullable=True), "text": Str("告知书正文"),
                                  "lifted": List(Str(), "解除的原因", max_items=None, required=False)})

NOTICES = page_model("ReleaseNoticesPage", NOTICE, "我已出具的告知书，最新的在前")


class PrepareHandler(ApiHandler):
    roles = ("medical",)

    @operation("prepareReleaseNotice", "扫码后预填解除医学观察告知书", body=PREPARE, response=PREPARED, errors=(403,))
    def post(self, body):
        return release_notices.prepare(self.current_account, body["payload"], self.config)


class NoticesHandler(ApiHandler):
    roles = ("medical",)

    @operation("issueReleaseNotice", "出具解除医学观察电子告知书", body=ISSUE, response=NOTICE, status=201,
               errors=(403, 409))
    def post(self, body):
        return release_notices.issue(self.current_account, body, self.config)

    @operation("listIssuedNotices", "我已出具的电子告知书", query=PAGE_QUERY, response=NOTICES, errors=(403,))
    def get(self, query):
        return paginate(release_notices.issued_by(self.current_account), release_notices.notice_view, **query)


class MyNoticeHandler(ApiHandler):
    @operation("getMyReleaseNotice", "我的（或家庭成员的）解除医学观察告知书", query=MEMBER_QUERY, response=NOTICE,
               errors=(403, 404))
    def get(self, query):
        person = (family.member_of(self.current_account, query["member_id"]) if query.get("member_id") is not None
                  else profile.require_self_person(self.current_account))
        return release_notices.notice_view(release_notices.latest_for(person))


def routes(config) -> list:
    """The medical routes."""
    return [
        (r"/api/v1/medical/release-notices/prepare", PrepareHandler),
        (r"/api/v1/medical/release-notices", NoticesHandler),
        (r"/api/v1/me/release-notice", MyNoticeHandler),
    ]
