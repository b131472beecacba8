"""Enterprise return-to-work (F1-F6, seed 001 小帮手): groups and invitations, the daily report,
my colour, the staff-status lists, the e-mailed Excel export, and removing members.

Who may do what: anyone with a real-name profile creates a group (and administers it) or joins
one by its invitation code; members report daily; only the admin of THAT enterprise sees its
staff, exports them and removes members (`administered`), whatever other groups they run.

How the daily report feeds the colour engine: the eight answers are filed as one health
declaration (`declarations.submit_declaration`, kind "member", the enterprise as organisation),
so the existing rules react without a rule of our own:

- "patient_contact" yes  -> contact_with_patient=True: the default rule "declared_contact"
  turns the person red for 14 days (lifted by a release notice).
- "fever_cough_fatigue" yes -> health_status "fever"; else "breathing_difficulty" yes ->
  health_status "other"; else "healthy". No measured temperature is invented: a rule on
  declaration.health_status (configurable, see colour_rules) decides what a declared fever means.
- the other answers (family symptoms, medical institution, Hubei contact, gatherings, public
  transport) are kept on the report; they make the member "abnormal" in the staff lists but are
  not, by themselves, a colour fact.

A second report the same day replaces the first in every list (the earlier is kept as history),
but its declaration stays: what a person declared is a fact like a temperature reading, and a
declared contact is lifted by a release notice, not by re-answering the form.

Staff lists are computed set-wise: active members JOIN persons LEFT JOIN non-green HealthStatus
LEFT JOIN today's current DailyReport, counted and paged in SQL, so thousands of staff cost the
same few queries as ten.
"""

from __future__ import annotations

import datetime as dt
import json

import peewee
from peewee import JOIN, Case, fn

from models.accounts import Account
from models.colour import HealthStatus
from models.db import db
from models.enterprise import DailyReport, Enterprise, EnterpriseMember, NotReportedList, StaffExport
from models.fields import utcnow
from models.people import Person
from services.accounts import auth
from services.colours import colour, colour_scheme
from services.common import excel
from services.common.errors import ApiError
from services.common.paging import DEFAULT_PER_PAGE, MAX_PER_PAGE
from services.common.timefmt import CHINA, china_today, local_iso
from services.messaging import mail
from services.operations import pools
from services.oversight import audit, exports
from services.people import declarations, identity, profile
from services.venues import share_codes

ADMIN_ROLE = "enterprise_admin"

# The eight yes/no questions of the daily report, as seed 001 words them.
QUESTIONS: tuple[tuple[str, str], ...] = (
    ("fever_cough_fatigue", "是否存在高烧、干咳、乏力现象？"),
    ("breathing_difficulty", "是否出现呼吸道感染等呼吸困难症状？"),
    ("family_symptoms", "家人及周边人员是否存在发烧以及呼吸症状？"),
    ("medical_institution", "您与周边人是否去过医疗机构等高位场所？"),
    ("hubei_contact", "您与周边人是否近距离接触过湖北地区人员？"),
    ("patient_contact", "您与周边人是否近距离接触过新型冠状病毒患者？"),
    ("gathering", "您与周边人是否参加过多人等聚会？"),
    ("public_transport", "是否乘坐公共交通？"),
)
# How a "yes" is shown in the staff lists' health column.
ANSWER_LABELS = {
    "fever_cough_fatigue": "高烧、干咳、乏力",
    "breathing_difficulty": "呼吸困难",
    "family_symptoms": "家人或周边人员有发烧或呼吸症状",
    "medical_institution": "去过医疗机构",
    "hubei_contact": "接触过湖北地区人员",
    "patient_contact": "接触过新冠肺炎患者",
    "gathering": "参加过聚会",
    "public_transport": "乘坐公共交通",
}
TRACK_TRANSPORTS = {"walk": "步行", "bicycle": "自行车", "bus": "公交", "subway": "地铁", "taxi": "出租车/网约车",
                    "car": "自驾", "shuttle": "单位班车", "train": "火车/高铁", "plane": "飞机", "other": "其他"}
CATEGORIES = {"normal": "正常人员", "abnormal": "异常人员", "not_reported": "未上报"}
EXPORT_STATUSES = {"pending": "发送中", "sent": "已发送", "failed": "发送失败"}
# The colour legend of the "我的颜值" screen (seed 001).
LEGEND = (
    ("green", "绿色：无下述情况记录"),
    ("yellow", "黄色：来自高风险地区、14天内购买退烧药品"),
    ("orange", "橙色：14天内湖北旅居史、所住小区有确诊、疑似患者"),
    ("red", "红色：密切接触者、发烧人群"),
)
WEEKDAYS = "一二三四五六日"
EXPORT_HEADERS = ("序号", "姓名", "证件号码", "手机号码", "地理位置", "提交情况", "提交时间", "人员类别", "健康码",
                  "异常情况")
EXPORT_WIDTHS = (8, 10, 22, 16, 30, 10, 22, 10, 10, 40)
MIME_XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# --- access -----------------------------------------------------------------------------------------

def _real_name(account: Account) -> Person:
    person = profile.require_self_person(account)
    if not person.name:
        raise ApiError("profile_incomplete", "请先完善实名信息（姓名和证件号码）", 400)
    return person


def administered(account: Account, enterprise_id) -> Enterprise:
    """The enterprise, when `account` is its admin; a 403 otherwise (also for an unknown id, so
    ids cannot be probed)."""
    enterprise = Enterprise.get_or_none(Enterprise.id == int(enterprise_id))
    if enterprise is None or enterprise.admin_id != account.id:
        raise ApiError("forbidden", "您不是该企业的管理员，无权操作", 403)
    return enterprise


def _membership(account: Account, enterprise_id) -> EnterpriseMember:
    member = (EnterpriseMember.select(EnterpriseMember, Enterprise).join(Enterprise)
              .where((EnterpriseMember.enterprise == int(enterprise_id)) & (EnterpriseMember.account == account)
                     & EnterpriseMember.removed_at.is_null()).first())
    if member is None:
        raise ApiError("not_a_member", "您不是该企业的成员", 403)
    return member


def _active_members():
    return EnterpriseMember.removed_at.is_null()


# --- groups and invitations (F1, F6) ------------------------------------------------------------------

def join_url(config, enterprise: Enterprise) -> str:
    """What the invitation QR holds: the join page of the code."""
    return f"{config.public_base_url.rstrip('/')}/join/{enterprise.invite_code}"


def enterprise_view(enterprise: Enterprise, member: EnterpriseMember | None = None) -> dict:
    """An enterprise as its members see it (the admin's name masked)."""
    admin = profile.self_person(enterprise.admin)
    view = {"id": enterprise.id, "name": enterprise.name, "address": enterprise.address,
            "admin_name": identity.mask_name(admin.name if admin else None) or None,
            "created_at": local_iso(enterprise.created_at)}
    if member is not None:
        view.update(role=member.role, is_admin=member.account_id == enterprise.admin_id,
                    member_id=member.id, joined_at=local_iso(member.joined_at))
    return view


def create_enterprise(account: Account, data: dict) -> dict:
    """createEnterprise: a new group with the caller as its admin (and first member)."""
    person = _real_name(account)
    with db.atomic():
        enterprise = Enterprise.create(name=data["name"], address=data["address"], admin=account,
                                       invite_code=share_codes.new_code(Enterprise.invite_code))
        member = EnterpriseMember.create(enterprise=enterprise, account=account, person=person, role="admin")
        auth.grant_role(account, ADMIN_ROLE)
        audit.record(account, ADMIN_ROLE, "enterprise_created", enterprise, name=enterprise.name)
    return enterprise_view(enterprise, member)


def my_enterprises(account: Account) -> list[dict]:
    """listMyEnterprises: the groups the caller belongs to now (removed memberships are gone)."""
    members = (EnterpriseMember.select(EnterpriseMember, Enterprise).join(Enterprise)
               .where((EnterpriseMember.account == account) & _active_members())
               .order_by(EnterpriseMember.joined_at, EnterpriseMember.id))
    return [enterprise_view(m.enterprise, m) for m in members]


def get_enterprise(account: Account, enterprise_id) -> dict:
    """getEnterprise: one group, for its current members only."""
    member = _membership(account, enterprise_id)
    return enterprise_view(member.enterprise, member)


def invitation(account: Account, enterprise_id, config) -> dict:
    """getInviteCode: the code, the join URL its QR holds, and where to fetch the QR image."""
    enterprise = administered(account, enterprise_id)
    return {**enterprise_view(enterprise), "code": enterprise.invite_code, "join_url": join_url(config, enterprise),
            "image_path": f"/api/v1/enterprises/{enterprise.id}/invite.png"}


def invitation_qr_text(account: Account, enterprise_id, config) -> str:
    """The text the invitation QR encodes (the caller must administer the enterprise)."""
    return join_url(config, administered(account, enterprise_id))


def join_enterprise(account: Account, code) -> dict:
    """joinEnterprise: join by invitation code (or the scanned join URL). A member removed
    earlier may join again with the code; a current member gets a 409."""
    person = _real_name(account)
    text = str(code or "")
    if "/join/" in text:
        text = text.rsplit("/join/", 1)[1]
    normalised = share_codes.normalise(text)
    enterprise = Enterprise.get_or_none(Enterprise.invite_code == normalised) if normalised else None
    if enterprise is None:
        raise ApiError("unknown_invite_code", "邀请码不存在，请向企业管理员确认", 404, "code")
    existing = EnterpriseMember.get_or_none((EnterpriseMember.enterprise == enterprise)
                                            & (EnterpriseMember.account == account))
    if existing is not None and existing.removed_at is None:
        raise ApiError("already_member", "您已是该企业成员", 409, "code")
    with db.atomic():
        if existing is not None:
            EnterpriseMember.update(removed_at=None, joined_at=utcnow(), person=person, role="member").where(
                EnterpriseMember.id == existing.id).execute()
            member = EnterpriseMember.get_by_id(existing.id)
        else:
            member = EnterpriseMember.create(enterprise=enterprise, account=account, person=person)
        audit.record(account, "citizen", "enterprise_joined", member, enterprise_id=enterprise.id)
    return enterprise_view(enterprise, member)


def remove_member(account: Account, enterprise_id, member_id) -> dict:
    """removeEnterpriseMember: the admin removes someone who left; from now on they are not in
    the lists and every member-only operation on the group answers 403 for them."""
    enterprise = administered(account, enterprise_id)
    member = EnterpriseMember.get_or_none((EnterpriseMember.id == int(member_id))
                                          & (EnterpriseMember.enterprise == enterprise) & _active_members())
    if member is None:
        raise ApiError("member_not_found", "该成员不存在或已移除", 404)
    if member.account_id == enterprise.admin_id:
        raise ApiError("cannot_remove_admin", "不能移除企业管理员", 400)
    with db.atomic():
        EnterpriseMember.update(removed_at=utcnow()).where(EnterpriseMember.id == member.id).execute()
        audit.record(account, ADMIN_ROLE, "enterprise_member_removed", member, enterprise_id=enterprise.id,
                     name=identity.mask_name(member.person.name))
    return {"removed": True, "member_id": member.id}


# --- daily report (F2) and my colour (F3) --------------------------------------------------------------

def _health_status(answers: dict) -> str:
    if answers["fever_cough_fatigue"]:
        return "fever"
    if answers["breathing_difficulty"]:
        return "other"
    return "healthy"


def _latest_place(track: list[dict]) -> str | None:
    # "HH:MM" texts sort as times; on a tie the later entry wins.
    latest = max(enumerate(track), key=lambda item: (item[1]["time"], item[0]), default=None)
    return latest[1]["place"] if latest else None


def abnormal_labels(answers: dict) -> list[str]:
    """The "yes" answers, as the staff lists show them."""
    return [ANSWER_LABELS[key] for key, _ in QUESTIONS if answers.get(key)]


def report_view(report: DailyReport) -> dict:
    """A daily report as its author sees it, with the colour it led to."""
    answers = json.loads(report.answers)
    return {"id": report.id, "report_date": str(report.report_date), "submitted_at": local_iso(report.submitted_at),
            "track": json.loads(report.track), "location": report.location,
            "answers": [{"key": key, "question": question, "answer": bool(answers.get(key))}
                        for key, question in QUESTIONS],
            "abnormal": report.abnormal, "abnormal_answers": abnormal_labels(answers)}


def report_form(account: Account) -> dict:
    """getDailyReportForm: the questions and transports, and today's current report if any."""
    person = profile.self_person(account)
    current = None
    if person is not None:
        current = DailyReport.get_or_none((DailyReport.person == person) & (DailyReport.current_on == china_today()))
    return {"questions": [{"key": k, "question": q} for k, q in QUESTIONS],
            "transports": [{"key": k, "label": v} for k, v in TRACK_TRANSPORTS.items()],
            "report_date": china_today().isoformat(), "today": report_view(current) if current else None}


def submit_daily_report(account: Account, data: dict, scheme: int = 4) -> dict:
    """submitDailyReport: today's track and answers; replaces today's earlier report (kept as
    history) and files the answers as a declaration the colour rules read (module docstring)."""
    person = _real_name(account)
    names = [n for (n,) in Enterprise.select(Enterprise.name).join(EnterpriseMember)
             .where((EnterpriseMember.account == account) & _active_members()).order_by(Enterprise.id).tuples()]
    if not names:
        raise ApiError("not_a_member", "请先通过企业邀请码加入企业后再上报", 403)
    answers = {key: bool(data["answers"][key]) for key, _ in QUESTIONS}
    track = [{"place": e["place"], "time": e["time"], "transport": e.get("transport")} for e in data.get("track") or []]
    location = _latest_place(track)
    today = china_today()
    try:
        with db.atomic():
            DailyReport.update(current_on=None).where((DailyReport.person == person)
                                                      & (DailyReport.current_on == today)).execute()
            declaration = declarations.submit_declaration(person, {
                "kind": "member", "organisation": "、".join(names)[:128], "health_status": _health_status(answers),
                "contact_with_patient": answers["patient_contact"], "residence": location or person.address,
                "remark": "企业复工每日上报"}, declared_by=account)
            report = DailyReport.create(person=person, account=account, report_date=today, current_on=today,
                                        answers=json.dumps(answers), track=json.dumps(track, ensure_ascii=False),
                                        location=location, abnormal=any(answers.values()),
                                        declaration=declaration["id"])
    except peewee.IntegrityError:
        # Two submissions at the same moment: the unique (person, current_on) lets one through.
        raise ApiError("report_conflict", "今日上报正在提交，请稍后刷新查看", 409) from None
    return {**report_view(report), "colour": my_colour(account, scheme)}


def my_colour(account: Account, scheme: int = 4) -> dict:
    """getMyColour: the colour with its reasons, the time it is shown at, the masked identity and
    the legend (in the 3-colour scheme orange is folded into yellow)."""
    person = profile.require_self_person(account)
    result = colour.verdict(person.subject).as_dict(scheme)
    now = dt.datetime.now(CHINA)
    legend = [{"colour": c, "text": t} for c, t in LEGEND if not (scheme == 3 and c == "orange")]
    if scheme == 3:
        legend[1]["text"] = "黄色：来自高风险地区、14天内购买退烧药品、14天内湖北旅居史、所住小区有确诊或疑似患者"
    result.update(name=identity.mask_name(person.name) or None,
                  id_number=identity.mask_id_number(person.id_number) or None,
                  shown_at=now.isoformat(timespec="seconds"),
                  date_label=f"{now:%Y年%m月%d日} 星期{WEEKDAYS[now.weekday()]}", legend=legend)
    return result


# --- staff status (F4) -----------------------------------------------------------------------------------

def _colour_bad():
    return HealthStatus.id.is_null(False)


def _reported():
    return DailyReport.id.is_null(False)


def _category_condition(category: str):
    if category == "abnormal":
        return _colour_bad() | (_reported() & (DailyReport.abnormal == True))  # noqa: E712
    if category == "not_reported":
        return ~_colour_bad() & DailyReport.id.is_null()
    if category == "normal":
        return ~_colour_bad() & _reported() & (DailyReport.abnormal == False)  # noqa: E712
    return None


def _staff(enterprise: Enterprise, today: dt.date, *columns):
    """Active members with their person, non-green colour and today's current report (LEFT JOINs)."""
    return (EnterpriseMember.select(*columns)
            .join(Person, on=(EnterpriseMember.person == Person.id))
            .join(HealthStatus, JOIN.LEFT_OUTER,
                  on=((HealthStatus.subject == Person.id_number_bidx) & (HealthStatus.colour != "green")))
            .join(DailyReport, JOIN.LEFT_OUTER,
                  on=((DailyReport.person == EnterpriseMember.person) & (DailyReport.current_on == today)))
            .where((EnterpriseMember.enterprise == enterprise) & _active_members()))


def _refresh_stale_colours(enterprise: Enterprise, today: dt.date) -> None:
    # A stored colour holds until its valid_until; the hourly job refreshes everyone, this makes
    # the admin's view exact meanwhile, at the cost of the (few) expired rows of these members.
    stale = [s for (s,) in HealthStatus.select(HealthStatus.subject)
             .join(Person, on=(Person.id_number_bidx == HealthStatus.subject))
             .join(EnterpriseMember, on=(EnterpriseMember.person == Person.id))
             .where((EnterpriseMember.enterprise == enterprise) & _active_members()
                    & (HealthStatus.valid_until < today)).distinct().tuples()]
    if stale:
        colour.recompute(stale, why="staff_status", today=today)


def _counts(enterprise: Enterprise, today: dt.date) -> dict:
    def total_of(category):
        return fn.COALESCE(fn.SUM(Case(None, [(_category_condition(category), 1)], 0)), 0)

    row = _staff(enterprise, today, *(total_of(c).alias(c) for c in CATEGORIES)).dicts().get()
    counts = {c: int(row[c] or 0) for c in CATEGORIES}
    counts["total"] = sum(counts.values())
    return counts


def _row_columns() -> tuple:
    return (EnterpriseMember.id.alias("member_id"), Person.name, Person.address, Person.id_number, Person.phone,
            HealthStatus.colour, DailyReport.id.alias("report_id"), DailyReport.submitted_at, DailyReport.location,
            DailyReport.answers, DailyReport.abnormal)


def _category_of(row: dict) -> str:
    if row["colour"] or (row["report_id"] and row["abnormal"]):
        return "abnormal"
    return "normal" if row["report_id"] else "not_reported"


def _staff_row(row: dict, scheme: int) -> dict:
    answers = json.loads(row["answers"]) if row["answers"] else {}
    shown = colour.display_colour(row["colour"] or "green", scheme)
    parts = ([colour.LABELS[shown]] if shown != "green" else []) + abnormal_labels(answers)
    reported = bool(row["report_id"])
    health = "；".join(parts) or ("正常" if reported else "未上报")
    return {"member_id": row["member_id"], "name": identity.mask_name(row["name"]) or None,
            "phone": identity.mask_phone(row["phone"]) or None,
            "location": row["location"] or row["address"],
            "submitted": reported, "submitted_label": "已上报" if reported else "未上报",
            "submitted_at": local_iso(row["submitted_at"]) if reported else None,
            "category": _category_of(row), "colour": shown, "colour_label": colour.LABELS[shown],
            "abnormal_answers": abnormal_labels(answers), "health": health}


def _category_order():
    # Risks first: abnormal, then not reported, then normal.
    return Case(None, [(_category_condition("abnormal"), 0), (_category_condition("not_reported"), 1)], 2)


def staff_status(account: Account, enterprise_id, *, category: str = "all", name: str | None = None,
                 page: int | None = None, per_page: int | None = None, scheme: int = 4) -> dict:
    """getStaffStatus: today's counts per category and one page of a category's members
    (masked name, location, submitted, health), optionally searched by exact name."""
    enterprise = administered(account, enterprise_id)
    today = china_today()
    _refresh_stale_colours(enterprise, today)
    counts = _counts(enterprise, today)
    query = _staff(enterprise, today, *_row_columns())
    condition = _category_condition(category)
    if condition is not None:
        query = query.where(condition)
    if name:
        query = query.where(Person.name_is(name))
    page, per_page = page or 1, min(per_page or DEFAULT_PER_PAGE, MAX_PER_PAGE)
    total = query.count()
    rows = query.order_by(_category_order(), EnterpriseMember.id).paginate(page, per_page).dicts()
    return {"enterprise": {"id": enterprise.id, "name": enterprise.name}, "report_date": today.isoformat(),
            "counts": counts, "category": category,
            "items": [_staff_row(r, scheme) for r in rows], "page": page, "per_page": per_page, "total": total}


# --- export by e-mail (F5) ----------------------------------------------------------------------------------

class ExportNotSent(ApiError):
    """The export was stored but the mail did not go; the answer carries the export's id so the
    client can retry it (retryStaffExport)."""

    def __init__(self, export_id: int, failure: mail.MailError):
        temporary = failure.temporary
        super().__init__("mail_unavailable" if temporary else "mail_refused",
                         f"{failure.message}。导出记录已保存（编号 {export_id}），可稍后重试发送",
                         503 if temporary else 502)
        self.export_id = export_id

    def to_dict(self) -> dict:
        return {**super().to_dict(), "export_id": self.export_id}


def _export_rows(enterprise: Enterprise, today: dt.date, scheme: int):
    query = _staff(enterprise, today, *_row_columns()).order_by(_category_order(), EnterpriseMember.id).dicts()
    for number, row in enumerate(query.iterator(), start=1):
        view = _staff_row(row, scheme)
        yield (number, view["name"], identity.mask_id_number(row["id_number"]) or "", view["phone"] or "",
               view["location"] or "", view["submitted_label"], view["submitted_at"] or "",
               CATEGORIES[view["category"]], view["colour_label"], "、".join(view["abnormal_answers"]))


def export_view(export: StaffExport) -> dict:
    """An export as the admin sees it."""
    return {"id": export.id, "email": export.email, "remark": export.remark, "report_date": str(export.report_date),
            "rows": export.rows, "counts": json.loads(export.counts), "status": export.status,
            "status_label": EXPORT_STATUSES[export.status], "error": export.error, "attempts": export.attempts,
            "created_at": local_iso(export.created_at), "sent_at": local_iso(export.sent_at)}


async def export_staff(account: Account, enterprise_id, email, remark: str | None, config,
                       purpose: str | None) -> dict:
    """exportStaffStatus: today's staff status as an xlsx (masked, its first row the watermark:
    who, when, `purpose`), stored with the request and audited with the purpose, then e-mailed.
    Its queries run on the DB pool, the spreadsheet on the CPU pool, the mail on the SDK pool.

    A failed send leaves the export stored as "failed" (ExportNotSent, 502 / 503 with its id), to
    be resent by `retry_export`.
    """
    enterprise, email, purpose, today, counts, rows, watermark = await pools.run_in(
        pools.DB, _export_contents, account, enterprise_id, email, purpose, config)
    content = await pools.run_in(pools.CPU, excel.write_xlsx, EXPORT_HEADERS, rows, sheet_title="员工情况",
                                 widths=EXPORT_WIDTHS, watermark=watermark)
    export_id = await pools.run_in(pools.DB, _store_export, account, enterprise, email, remark, purpose, today,
                                   counts, len(rows), content)
    return await _deliver(export_id, config)


def _export_contents(account: Account, enterprise_id, email, purpose, config) -> tuple:
    """What the staff export holds: (enterprise, e-mail, purpose, date, counts, rows, watermark), checked."""
    enterprise = administered(account, enterprise_id)
    email = mail.check_address(email)
    purpose = exports.clean_purpose(purpose)
    today = china_today()
    _refresh_stale_colours(enterprise, today)
    counts = _counts(enterprise, today)
    rows = list(_export_rows(enterprise, today, colour_scheme.current(config)))
    requester = profile.self_person(account)
    return (enterprise, email, purpose, today, counts, rows,
            exports.watermark(requester.name if requester else None, purpose))


def _store_export(account: Account, enterprise, email, remark, purpose, today, counts, row_count: int,
                  content: bytes) -> int:
    """The export stored (to be sent) and audited with its purpose; its id."""
    with db.atomic():
        export = StaffExport.create(enterprise=enterprise, requested_by=account, email=email, remark=remark or None,
                                    report_date=today, rows=row_count, content=content,
                                    counts=json.dumps({c: counts[c] for c in CATEGORIES}))
        exports.record(None, "staff_status", purpose, rows=row_count, filters={"report_date": today}, actor=account,
                       role=ADMIN_ROLE, target=export, action="staff_export", enterprise_id=enterprise.id,
                       email=email)
    return export.id


def _message(export_id: int) -> dict:
    export = StaffExport.get_by_id(export_id)
    enterprise = export.enterprise
    counts = json.loads(export.counts)
    requester = profile.self_person(export.requested_by)
    lines = [f"{enterprise.name} {export.report_date} 员工情况，详见附件。",
             "、".join(f"{CATEGORIES[c]} {counts.get(c, 0)} 名" for c in CATEGORIES) + "。"]
    if export.remark:
        lines.append(f"备注：{export.remark}")
    lines += ["", f"导出人：{identity.mask_name(requester.name if requester else None) or '企业管理员'}",
              "此邮件由健康码平台自动发送，证件号码和手机号码已脱敏。"]
    return {"to": export.email, "subject": f"{enterprise.name} {export.report_date} 员工情况",
            "body": "\n".join(lines),
            "attachments": [(f"员工情况_{export.report_date}.xlsx", bytes(export.content), MIME_XLSX)]}


async def _deliver(export_id: int, config) -> dict:
    """E-mail the stored export; its status kept whether or not the mail went."""
    message = await pools.run_in(pools.DB, _message, export_id)
    try:
        await pools.run_in(pools.SDK, mail.send_mail, config, **message)
    except mail.MailError as failure:
        await pools.run_in(pools.DB, _sent, export_id, failure)
        raise ExportNotSent(export_id, failure) from None
    return await pools.run_in(pools.DB, _sent, export_id, None)


def _sent(export_id: int, failure: mail.MailError | None) -> dict:
    """Keep the outcome of one sending of the export (`failure` None: sent); the export's view."""
    if failure is not None:
        changes = {"status": "failed", "error": failure.message[:255]}
    else:
        changes = {"status": "sent", "error": None, "sent_at": utcnow()}
    StaffExport.update(**changes, attempts=StaffExport.attempts + 1).where(StaffExport.id == export_id).execute()
    return export_view(StaffExport.get_by_id(export_id))


async def retry_export(account: Account, enterprise_id, export_id, config) -> dict:
    """retryStaffExport: resend the stored file of an export that was not sent (audited)."""
    return await _deliver(await pools.run_in(pools.DB, _retried, account, enterprise_id, export_id), config)


def _retried(account: Account, enterprise_id, export_id) -> int:
    """The id of the enterprise's unsent export `export_id`, its retry audited."""
    enterprise = administered(account, enterprise_id)
    export = StaffExport.get_or_none((StaffExport.id == int(export_id)) & (StaffExport.enterprise == enterprise))
    if export is None:
        raise ApiError("export_not_found", "导出记录不存在", 404)
    if export.status == "sent":
        raise ApiError("export_already_sent", "该导出已发送成功，无需重试", 409)
    audit.record(account, ADMIN_ROLE, "staff_export_retried", export, enterprise_id=enterprise.id, email=export.email)
    return export.id


def list_exports(account: Account, enterprise_id, page: int | None = None, per_page: int | None = None) -> dict:
    """listStaffExports: the enterprise's exports, newest first, with their sending status."""
    enterprise = administered(account, enterprise_id)
    query = StaffExport.select(StaffExport.id, StaffExport.email, StaffExport.remark, StaffExport.report_date,
                               StaffExport.rows, StaffExport.counts, StaffExport.status, StaffExport.error,
                               StaffExport.attempts, StaffExport.created_at, StaffExport.sent_at).where(
        StaffExport.enterprise == enterprise).order_by(StaffExport.id.desc())
    page, per_page = page or 1, min(per_page or DEFAULT_PER_PAGE, MAX_PER_PAGE)
    return {"items": [export_view(e) for e in query.paginate(page, per_page)], "page": page, "per_page": per_page,
            "total": query.count()}


# --- not-reported lists (I3) ----------------------------------------------------------------------------------

def build_not_reported(today: dt.date | None = None) -> dict:
    """Every enterprise's list of active members with no report `today`, replacing any list of
    that day (so running twice gives the same lists). One query finds them all."""
    today = today or china_today()
    missing: dict[int, list[dict]] = {}
    totals: dict[int, int] = {}
    rows = (EnterpriseMember.select(EnterpriseMember.id, EnterpriseMember.enterprise, Person.name,
                                    DailyReport.id.alias("report_id"))
            .join(Person, on=(EnterpriseMember.person == Person.id))
            .join(DailyReport, JOIN.LEFT_OUTER,
                  on=((DailyReport.person == EnterpriseMember.person) & (DailyReport.current_on == today)))
            .where(_active_members()).order_by(EnterpriseMember.id).dicts())
    for row in rows.iterator():
        totals[row["enterprise"]] = totals.get(row["enterprise"], 0) + 1
        if row["report_id"] is None:
            missing.setdefault(row["enterprise"], []).append(
                {"member_id": row["id"], "name": identity.mask_name(row["name"]) or None})
    enterprise_ids = [e for (e,) in Enterprise.select(Enterprise.id).tuples()]
    with db.atomic():
        NotReportedList.delete().where(NotReportedList.report_date == today).execute()
        lists = [{"enterprise": e, "report_date": today, "people": json.dumps(missing.get(e, []), ensure_ascii=False),
                  "count": len(missing.get(e, [])), "total": totals.get(e, 0), "created_at": utcnow()}
                 for e in enterprise_ids]
        for start in range(0, len(lists), 500):
            NotReportedList.insert_many(lists[start:start + 500]).execute()
    return {"report_date": today.isoformat(), "enterprises": len(lists),
            "not_reported": sum(item["count"] for item in lists)}


def not_reported_list(account: Account, enterprise_id, day: dt.date | None = None) -> dict:
    """getNotReportedList: the list the daily job built for `day` (default today)."""
    enterprise = administered(account, enterprise_id)
    day = day or china_today()
    row = NotReportedList.get_or_none((NotReportedList.enterprise == enterprise) & (NotReportedList.report_date == day))
    if row is None:
        raise ApiError("not_reported_list_missing", "该日的未上报名单尚未生成（每日定时生成）", 404, "date")
    return {"report_date": str(row.report_date), "built_at": local_iso(row.created_at), "count": row.count,
            "total": row.total, "people": json.loads(row.people)}
