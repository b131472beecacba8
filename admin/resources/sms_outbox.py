"""短信发件箱: in development only, the text messages the development provider recorded (codes
and passwords included), newest first, so that a tester can finish a phone registration or a
password reset. In production the page does not exist (404) and is in no menu."""

from __future__ import annotations

from admin.resources.common import masked_phone, phone_search, time_column
from admin.site import Column, Filter, Resource, site
from models.messaging import SmsMessage

TEMPLATES = {"code": "验证码", "new_password": "新密码", "account_created": "账号开通"}


@site.register
class SmsOutboxAdmin(Resource):
    name, label, model = "sms_outbox", "短信发件箱", SmsMessage
    menu_group = "账号与系统"
    menu_order = 900  # a tester's tool: after the pages officials use
    columns = (time_column("created_at", "发送时间"), masked_phone(lambda r: r),
               Column("template", "类型", lambda r: TEMPLATES.get(r.template, r.template)), Column("content", "短信内容"),
               Column("provider", "发送方式", lambda r: "开发环境（未实际发送）" if r.provider == "dev" else r.provider))
    list_display = ("created_at", "phone", "template", "content")
    searches = (phone_search(SmsMessage.phone_bidx),)
    filters = (Filter.on(SmsMessage.template, "类型", TEMPLATES),)
    region_attr = None  # a development tool: every message, whoever it went to

    def available(self, config) -> bool:
        return not config.is_production
