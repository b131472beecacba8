"""Why a file leaves the platform (N5): every export states its purpose (用途), is audited with
who, what, the filters, the row count and the purpose, and carries a watermark line naming the
(masked) person who exported it, when (China time) and why.

    purpose = exports.clean_purpose(form["purpose"])          # ApiError(purpose_required, ...)
    line = exports.watermark(admin.name, purpose)              # "导出人：王*  导出时间：... 用途：..."
    exports.record(admin, "residents", purpose, rows=120, filters={"status": "isolating"})

Writers put the line where their format allows: the first row of an xlsx above its headers
(services/common/excel.py), a PDF's subject, a ZIP's comment and a text file inside it.
"""

from __future__ import annotations

import datetime as dt

from services.common.errors import ApiError
from services.common.text_checks import has_control_characters
from services.common.timefmt import CHINA
from services.oversight import audit
from services.people.identity import mask_name

PURPOSE_MIN = 2
PURPOSE_MAX = 50


def clean_purpose(text) -> str:
    """The stated purpose, trimmed: required, 2-50 characters on one line, no control characters."""
    if not isinstance(text, str) or not text.strip():
        raise ApiError("purpose_required", "请填写导出用途（如：核查密接人员）", 400, "purpose")
    text = text.strip()
    if has_control_characters(text) or any(c in text for c in "\t\r\n"):
        raise ApiError("invalid_purpose", "导出用途不能包含控制字符或换行", 400, "purpose")
    if not PURPOSE_MIN <= len(text) <= PURPOSE_MAX:
        raise ApiError("invalid_purpose", f"导出用途应为 {PURPOSE_MIN} 至 {PURPOSE_MAX} 个字", 400, "purpose")
    return text


def watermark(name: str | None, purpose: str, at: dt.datetime | None = None) -> str:
    """The watermark line: the exporter's masked name, the time in China and the purpose."""
    when = (at or dt.datetime.now(CHINA)).astimezone(CHINA).strftime("%Y-%m-%d %H:%M")
    return f"导出人：{mask_name(name) or '未署名'}　导出时间：{when}（北京时间）　用途：{purpose}"


def record(admin, what: str, purpose: str, *, rows: int, filters: dict, actor=None, role: str | None = None,
           target=None, action: str = "export", **detail):
    """The export's audit line: by `admin` (a back-office account) or by `actor` in `role` (a
    mini-program account); `what` was exported, with its filters, row count and purpose."""
    return audit.record(actor, role or admin.role, action, target, admin_actor=admin, resource=what,
                        filters=filters, rows=rows, purpose=purpose, **detail)
