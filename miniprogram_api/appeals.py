"""The citizen's appeals against a colour (D9): file one, and read their status and answers."""

from __future__ import annotations

from handlers.base import ApiHandler, operation
from handlers.schema import Bool, Int, List, Obj, Str, model, response_model
from services.colours import appeals
from services.people import profile

# The image's base64 text may run past 2 MB of image: the service says "over 2 MB" (413, field
# "image") up to this size, the handler base past it.
IMAGE_TEXT_MAX = 4 * 1024 * 1024
APPEAL_REQUEST = model("ColourAppealRequest", {
    "reason": Str("申诉理由", max_len=appeals.REASON_MAX),
    "image": Str("图片（可选，base64 或 data: URL；JPG/PNG/WEBP/GIF，不超过 2 MB）", max_len=IMAGE_TEXT_MAX,
                 required=False, nullable=True),
}, description="对非绿码提出申诉：24小时内由所在社区（无法确定社区时为区县）处理，逾期转区县")
APPEAL = response_model("ColourAppeal", {
    "id": Int("编号"), "colour": Str("申诉时的颜色"), "colour_label": Str("颜色名称"),
    "reasons": List(Str(), "申诉时的赋码原因"), "reason": Str("申诉理由"),
    "status": Str("状态：open 待处理 / accepted 已受理 / rejected 已驳回"), "status_label": Str("状态名称"),
    "answer": Str("处理意见", nullable=True), "has_image": Bool("是否附图"), "submitted_at": Str("提交时间"),
    "deadline": Str("处理时限"), "escalated": Bool("是否已逾期转区县"), "decided_at": Str("处理时间", nullable=True),
    "correction": Str("受理后的更正进度：更正待审批 / 已更正 / 更正未获批准", nullable=True),
}, description="我的申诉")
APPEALS = response_model("ColourAppeals", {"items": List(Obj(APPEAL), "我的申诉，最新的在前（字段同 ColourAppeal）")})


class MyAppealsHandler(ApiHandler):
    def body_limit(self) -> int:
        return IMAGE_TEXT_MAX + 64 * 1024  # an image in base64, with the reason

    @operation("submitColourAppeal", "对我的健康码颜色提出申诉（理由，可附一张图片）", body=APPEAL_REQUEST,
               response=APPEAL, status=201, errors=(400, 401, 409, 413))
    def post(self, body):
        person = profile.require_self_person(self.current_account)
        image = appeals.decode_image(body.get("image"))
        content_type = appeals.image_type(image) if image is not None else None  # one small image: on the DB pool
        appeal = appeals.submit(self.current_account, person, body["reason"], image, content_type)
        return appeals.view(appeal)

    @operation("listMyAppeals", "我的申诉及处理结果", response=APPEALS, errors=(401,))
    def get(self):
        person = profile.require_self_person(self.current_account)
        return {"items": appeals.mine(person)}


def routes(config) -> list:
    """The appeal routes."""
    return [(r"/api/v1/me/health-code/appeals", MyAppealsHandler)]
