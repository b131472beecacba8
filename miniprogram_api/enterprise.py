"""Enterprise return-to-work (F1-F6, I3; seed 001 小帮手): groups and invitations, the daily
report, my colour, staff status, the Excel export by e-mail, members, not-reported lists.

Admin-only operations declare the enterprise_admin role here; the service then checks that the
caller administers the enterprise in the path (services.enterprises.enterprise.administered).
"""

from __future__ import annotations

import functools

from handlers.base import ApiHandler, Drawing, operation
from handlers import shedding
from handlers.schema import Bool, Date, Int, List, Obj, Str, model, response_model
from miniprogram_api.health import HIT
from services.colours import colour_scheme
from services.common.paging import MAX_PAGE, MAX_PER_PAGE
from services.enterprises import enterprise
from services.oversight import exports
from services.venues import place_code_images

ADMIN = (enterprise.ADMIN_ROLE,)
PAGE = {"page": Int("页码", minimum=1, maximum=MAX_PAGE, required=False),
        "per_page": Int("每页条数", minimum=1, maximum=MAX_PER_PAGE, required=False)}

CREATE = model("CreateEnterpriseRequest", {"name": Str("群组名称", max_len=128), "address": Str("地址", max_len=255)})
ENTERPRISE = response_model("Enterprise", {
    "id": Int("企业编号"), "name": Str("群组名称"), "address": Str("地址"), "admin_name": Str("管理员（脱敏）", nullable=True),
    "created_at": Str("创建时间"), "role": Str("我的角色：admin / member", required=False),
    "is_admin": Bool("我是否为管理员", required=False), "member_id": Int("我的成员编号", required=False),
    "joined_at": Str("加入时间", required=False)})
ENTERPRISES = response_model("Enterprises", {"items": List(Obj(ENTERPRISE), "我加入的企业", max_items=None)})
INVITE = response_model("EnterpriseInvite", {**ENTERPRISE.__specs__, "code": Str("邀请码"), "join_url": Str("二维码内容（加入链接）"),
                                     "image_path": Str("二维码图片地址（PNG，需登录）")})
JOIN = model("JoinEnterpriseRequest", {"code": Str("邀请码（或扫描二维码得到的链接）", max_len=255)})

TRACK_ENTRY = model("TrackEntry", {
    "place": Str("地点", max_len=128),
    "time": Str("时间（HH:MM）", max_len=5, pattern=r"([01][0-9]|2[0-3]):[0-5][0-9]", example="08:30"),
    "transport": Str("出行方式", choices=tuple(enterprise.TRACK_TRANSPORTS), required=False, nullable=True),
})
ANSWERS = model("DailyReportAnswers", {key: Bool(question) for key, question in enterprise.QUESTIONS},
                 description="身体状况：八个是否问题（true 为“是”）")
DAILY_REPORT = model("DailyReportRequest", {
    "track": List(Obj(TRACK_ENTRY), "当日活动轨迹（可为空）", max_items=20, required=False),
    "answers": Obj(ANSWERS, "身体状况"),
})
LEGEND_ITEM = response_model("ColourLegend", {"colour": Str("颜色"), "text": Str("说明")})
MY_COLOUR = response_model("MyColour", {
    "colour": Str("颜色"), "colour_label": Str("颜色名称"), "reasons": List(Str(), "原因", max_items=None),
    "guidance": List(Str(), "解除指引", max_items=None), "details": List(Obj(HIT), "命中的规则", max_items=None),
    "computed_at": Str("计算时间"),
    "name": Str("姓名（脱敏）", nullable=True), "id_number": Str("身份证号（脱敏）", nullable=True),
    "shown_at": Str("当前时间"), "date_label": Str("日期与星期"), "legend": List(Obj(LEGEND_ITEM), "颜色说明", max_items=None)})

TRACK_VIEW = response_model("TrackPoint", {"place": Str("地点"), "time": Str("时间（HH:MM）"),
                                           "transport": Str("出行方式", nullable=True)})
ANSWER_VIEW = response_model("DailyReportAnswer", {"key": Str("问题代码"), "question": Str("问题"), "answer": Bool("回答")})
REPORT_VIEW = response_model("DailyReport", {
    "id": Int("编号"), "report_date": Str("上报日期"), "submitted_at": Str("提交时间"),
    "track": List(Obj(TRACK_VIEW), "活动轨迹", max_items=20),
    "location": Str("最后所在地点", nullable=True), "answers": List(Obj(ANSWER_VIEW), "问题与回答", max_items=None),
    "abnormal": Bool("是否有“是”的回答"), "abnormal_answers": List(Str(), "“是”的回答", max_items=None),
    "colour": Obj(MY_COLOUR, "提交后的颜值", required=False)})
QUESTION = response_model("DailyReportQuestion", {"key": Str("问题代码"), "question": Str("问题")})
TRANSPORT = response_model("TrackTransport", {"key": Str("出行方式代码"), "label": Str("出行方式")})
REPORT_FORM = response_model("DailyReportForm", {
    "questions": List(Obj(QUESTION), "八个问题", max_items=None),
    "transports": List(Obj(TRANSPORT), "出行方式", max_items=None),
    "report_date": Str("今天"), "today": Obj(REPORT_VIEW, "今日已提交的上报", nullable=True)})
CATEGORY_CHOICES = ("all", *enterprise.CATEGORIES)
STAFF_QUERY = model("StaffStatusQuery", {
    "category": Str("类别：all 全部 / normal 正常人员 / abnormal 异常人员 / not_reported 未上报",
                    choices=CATEGORY_CHOICES, required=False),
    "name": Str("按姓名搜索（完整姓名，精确匹配）", max_len=32, required=False), **PAGE})
COUNTS = response_model("StaffCounts", {"normal": Int("正常人员"), "abnormal": Int("异常人员"),
                                        "not_reported": Int("未上报"), "total": Int("总数")})
STAFF_ROW = response_model("StaffRow", {
    "member_id": Int("成员编号"), "name": Str("姓名（脱敏）", nullable=True), "phone": Str("手机号（脱敏）", nullable=True),
    "location": Str("地理位置", nullable=True), "submitted": Bool("是否已上报"), "submitted_label": Str("已上报 / 未上报"),
    "submitted_at": Str("上报时间", nullable=True), "category": Str("类别：normal / abnormal / not_reported"),
    "colour": Str("颜色"), "colour_label": Str("颜色名称"), "abnormal_answers": List(Str(), "“是”的回答", max_items=None),
    "health": Str("健康情况")})
EXPORT_COUNTS = response_model("StaffExportCounts", {"normal": Int("正常人员"), "abnormal": Int("异常人员"),
                                                    "not_reported": Int("未上报")})
ENTERPRISE_REF = response_model("EnterpriseRef", {"id": Int("企业编号"), "name": Str("群组名称")})
STAFF = response_model("StaffStatus", {
    "enterprise": Obj(ENTERPRISE_REF, "企业"), "report_date": Str("日期"),
    "counts": Obj(COUNTS, "各类人数"), "category": Str("本页类别"),
    "items": List(Obj(STAFF_ROW), "人员", max_items=MAX_PER_PAGE),
    "page": Int("页码"), "per_page": Int("每页条数"), "total": Int("本类别（搜索后）总数")})
REMOVED = response_model("MemberRemoved", {"removed": Bool("已移除"), "member_id": Int("成员编号")})
EXPORT = model("StaffExportRequest", {"email": Str("收件人邮箱", max_len=320),
                                       # Checked by the service after the admin's rights (services/oversight/exports.py).
                                       "purpose": Str("导出用途（记入导出记录，并写在文件首行）", min_len=exports.PURPOSE_MIN,
                                                      max_len=exports.PURPOSE_MAX, deferred=True),
                                       "remark": Str("备注", max_len=255, required=False, nullable=True)})
EXPORT_VIEW = response_model("StaffExport", {
    "id": Int("导出编号"), "email": Str("收件人"), "remark": Str("备注", nullable=True), "report_date": Str("日期"),
    "rows": Int("人数"), "counts": Obj(EXPORT_COUNTS, "各类人数"), "status": Str("pending / sent / failed"),
    "status_label": Str("状态"), "error": Str("失败原因", nullable=True), "attempts": Int("发送次数"),
    "created_at": Str("导出时间"), "sent_at": Str("发送时间", nullable=True)})
EXPORTS_QUERY = model("StaffExportsQuery", PAGE)
EXPORTS = response_model("StaffExports", {"items": List(Obj(EXPORT_VIEW), "导出记录", max_items=MAX_PER_PAGE),
                                          "page": Int("页码"),
                                  "per_page": Int("每页条数"), "total": Int("总数")})
NOT_REPORTED_QUERY = model("NotReportedQuery", {"date": Date("日期（默认今天）", required=False)})
NOT_REPORTED_PERSON = response_model("NotReportedPerson", {"member_id": Int("成员编号"),
                                                          "name": Str("姓名（脱敏）", nullable=True)})
NOT_REPORTED = response_model("NotReportedList", {"report_date": Str("日期"), "built_at": Str("生成时间"),
                                          "count": Int("未上报人数"), "total": Int("成员总数"),
                                          "people": List(Obj(NOT_REPORTED_PERSON), "未上报人员", max_items=None)})


class EnterprisesHandler(ApiHandler):
    @operation("createEnterprise", "创建企业群组（需实名），创建者成为管理员", body=CREATE, response=ENTERPRISE, status=201)
    def post(self, body):
        return enterprise.create_enterprise(self.current_account, body)

    @operation("listMyEnterprises", "我加入的企业", response=ENTERPRISES)
    def get(self):
        return {"items": enterprise.my_enterprises(self.current_account)}


class EnterpriseHandler(ApiHandler):
    @operation("getEnterprise", "企业信息（仅本企业成员）", response=ENTERPRISE, errors=(403,))
    def get(self, enterprise_id):
        return enterprise.get_enterprise(self.current_account, enterprise_id)


class JoinHandler(ApiHandler):
    @operation("joinEnterprise", "通过邀请码加入企业（需实名）", body=JOIN, response=ENTERPRISE, status=201,
               errors=(404, 409))
    def post(self, body):
        return enterprise.join_enterprise(self.current_account, body["code"])


class InviteHandler(ApiHandler):
    roles = ADMIN

    @operation("getInviteCode", "生成邀请码：邀请码、二维码内容和图片地址", response=INVITE)
    def get(self, enterprise_id):
        return enterprise.invitation(self.current_account, enterprise_id, self.config)


class InviteImageHandler(ApiHandler):
    roles = ADMIN

    @operation("getInviteCodeImage", "邀请码二维码图片（PNG）", produces="image/png")
    def get(self, enterprise_id):
        text = enterprise.invitation_qr_text(self.current_account, enterprise_id, self.config)
        return Drawing(functools.partial(place_code_images.qr_png, text))


class DailyReportsHandler(ApiHandler):
    @operation("getDailyReportForm", "每日登记：问题、出行方式和今日已提交的上报", response=REPORT_FORM)
    def get(self):
        return enterprise.report_form(self.current_account)

    @operation("submitDailyReport", "提交每日登记（当日再次提交将替换此前的上报）", body=DAILY_REPORT, response=REPORT_VIEW,
               status=201, errors=(403, 409))
    def post(self, body):
        return enterprise.submit_daily_report(self.current_account, body, colour_scheme.current(self.config))


class MyColourHandler(ApiHandler):
    @operation("getMyColour", "我的颜值：颜色、原因、当前时间和脱敏身份证号", response=MY_COLOUR)
    def get(self):
        return enterprise.my_colour(self.current_account, colour_scheme.current(self.config))


class StaffHandler(ApiHandler):
    roles = ADMIN

    @operation("getStaffStatus", "员工情况：正常人员 / 异常人员 / 未上报的人数和分页列表，可按姓名搜索", query=STAFF_QUERY,
               response=STAFF)
    def get(self, enterprise_id, query):
        return enterprise.staff_status(self.current_account, enterprise_id, category=query.get("category", "all"),
                                       name=query.get("name"), page=query.get("page"), per_page=query.get("per_page"),
                                       scheme=colour_scheme.current(self.config))


class MemberHandler(ApiHandler):
    roles = ADMIN

    @operation("removeEnterpriseMember", "移除成员（离职等），移除后立即失去该企业的权限", response=REMOVED, errors=(404,))
    def delete(self, enterprise_id, member_id):
        return enterprise.remove_member(self.current_account, enterprise_id, member_id)


class ExportsHandler(ApiHandler):
    roles = ADMIN
    shed_priority = shedding.BULK

    @operation("exportStaffStatus", "导出当日员工情况 Excel 并发送到邮箱（发送失败可重试）", body=EXPORT,
               response=EXPORT_VIEW, status=201, errors=(502, 503))
    async def post(self, enterprise_id, body):
        return await enterprise.export_staff(self.current_account, enterprise_id, body["email"], body.get("remark"),
                                             self.config, body.get("purpose"))

    @operation("listStaffExports", "导出记录及发送状态", query=EXPORTS_QUERY, response=EXPORTS)
    def get(self, enterprise_id, query):
        return enterprise.list_exports(self.current_account, enterprise_id, query.get("page"), query.get("per_page"))


class ExportRetryHandler(ApiHandler):
    roles = ADMIN
    shed_priority = shedding.BULK

    @operation("retryStaffExport", "重新发送未发送成功的导出（发送已保存的文件）", response=EXPORT_VIEW,
               errors=(404, 409, 502, 503))
    async def post(self, enterprise_id, export_id):
        return await enterprise.retry_export(self.current_account, enterprise_id, export_id, self.config)


class NotReportedHandler(ApiHandler):
    roles = ADMIN

    @operation("getNotReportedList", "每日未上报名单（定时任务生成）", query=NOT_REPORTED_QUERY, response=NOT_REPORTED,
               errors=(404,))
    def get(self, enterprise_id, query):
        return enterprise.not_reported_list(self.current_account, enterprise_id, query.get("date"))


def routes(config) -> list:
    """The enterprise routes."""
    base = r"/api/v1/enterprises/(?P<enterprise_id>\d+)"
    return [
        (r"/api/v1/enterprises", EnterprisesHandler),
        (r"/api/v1/enterprises/join", JoinHandler),
        (base, EnterpriseHandler),
        (base + r"/invite", InviteHandler),
        (base + r"/invite\.png", InviteImageHandler),
        (base + r"/staff", StaffHandler),
        (base + r"/members/(?P<member_id>\d+)", MemberHandler),
        (base + r"/exports", ExportsHandler),
        (base + r"/exports/(?P<export_id>\d+)/retry", ExportRetryHandler),
        (base + r"/not-reported", NotReportedHandler),
        (r"/api/v1/me/daily-reports", DailyReportsHandler),
        (r"/api/v1/me/colour", MyColourHandler),
    ]
