"""短信发件箱: in development only, the text messages the development provider recorded (codes
and passwords included), newest first, so that a tester can finish a phone registration or a
password reset. In production the page does not exist (404) and is in no menu."""

from __future__ import annotations

from admin.resources.common import masked_phone, phone_search, time_column
from admin.site import Column, Filter, Resource, site
from models.messaging import SmsMessage
from services.errors import ApiError

TEMPLATES = {"code": "验证码", "new_password": "新密码", "account_created": "账号开通"}


@site.register
class SmsOutboxAdmin(Resource):
    name, label, model = "sms_outbox", "短信发件箱", SmsMessage
    menu_group = "账号与系统"
    menu_order = 900  # a tester's tool: after the pages officials use
    list_display = ("created_at", "phone", "template", "content")
    readonly_fields = ("created_at", "phone", "template", "content", "provider")
    search_fields = ("phone",)
    list_filter = ("template",)
    columns = {
        "created_at": time_column("发送时间", lambda r: r.created_at),
        "phone": masked_phone(lambda r: r),
        "template": Column("类型", lambda r: TEMPLATES.get(r.template, r.template)),
        "content": Column("短信内容", lambda r: r.content),
        "provider": Column("发送方式", lambda r: "开发环境（未实际发送）" if r.provider == "dev" else r.provider),
    }
    searches = {"phone": phone_search(SmsMessage.phone_bidx)}
    filters = {"template": Filter("类型", TEMPLATES, lambda q, v: q.where(SmsMessage.template == v))}

    def available(self, config) -> bool:
        return not config.is_production

    def base_query(self):
        return SmsMessage.select()

    def scoped(self, ctx, query):
        return query  # a development tool: every message, whoever it went to

    def get_row(self, ctx, row_id):
        try:
            row = SmsMessage.get_or_none(SmsMessage.id == int(row_id))
        except (TypeError, ValueError):
            row = None
        if row is None:
            raise ApiError("not_found", "记录不存在", 404)
        return row
