"""Citizens' appeals against their colour (D9, C9).

A citizen appeals a non-green colour with a reason and, optionally, an image (at most 2 MB, a
real image as Pillow reads it). The appeal lands in the queue of the person's community (the
district, or the region of the ID number, when no community is known) with a 24-hour deadline.
An official of that region accepts it, which proposes a correction for a second account of the
same organisation to approve (services/colours/corrections.py), or rejects it with an answer the
citizen reads. An appeal still open at its deadline moves to the district's queue
(jobs/appeal_escalation.py). Every step is audited.
"""

from __future__ import annotations

import binascii
import base64
import datetime as dt
import io
import json

from models.accounts import Account
from models.admin import AdminUser
from models.corrections import AppealImage, ColourAppeal
from models.db import is_mysql
from models.fields import utcnow
from models.people import Person
from models.regions import Region
from models.transactions import run_transaction
from services.accounts import admin_auth
from services.colours import colour, corrections
from services.common.errors import ApiError
from services.common.timefmt import local_iso
from services.oversight import audit

DEADLINE = dt.timedelta(hours=24)
IMAGE_MAX_BYTES = 2 * 1024 * 1024
IMAGE_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "GIF": "image/gif"}
REASON_MAX = 500
STATUSES = {"open": "待处理", "accepted": "已受理", "rejected": "已驳回"}
OVERRIDE_CHOICE = "override_green"


# --- the citizen's side --------------------------------------------------------------------------

def with_people():
    """Every appeal with its region and person (the 健康码申诉 list before any limit)."""
    return ColourAppeal.select(ColourAppeal, Region, Person).join(Region).switch(ColourAppeal).join(Person)


def decode_image(text) -> bytes | None:
    """The appeal's image from its base64 text (None when absent); 413 over IMAGE_MAX_BYTES."""
    if text in (None, ""):
        return None
    if not isinstance(text, str):
        raise ApiError("invalid_image", "图片应为 base64 编码的文本", 400, "image")
    if "," in text[:100] and text.startswith("data:"):
        text = text.split(",", 1)[1]  # a data: URL as a browser's FileReader gives it
    # Refused before decoding when even the shortest reading of the text is over the limit.
    if len(text) * 3 // 4 - 2 > IMAGE_MAX_BYTES:
        raise ApiError("image_too_large", "图片不能超过 2 MB", 413, "image")
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError("invalid_image", "图片不是合法的 base64 编码", 400, "image") from None
    if len(data) > IMAGE_MAX_BYTES:
        raise ApiError("image_too_large", "图片不能超过 2 MB", 413, "image")
    return data


def image_type(data: bytes) -> str:
    """The content type of an image Pillow can read (CPU work: run it off the event loop); 400
    for anything that is not an image of a kind a page can show."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            kind = image.format
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise ApiError("invalid_image", "上传的文件不是有效的图片", 400, "image") from None
    if kind not in IMAGE_TYPES:
        raise ApiError("invalid_image", "图片格式应为 JPG、PNG、WEBP 或 GIF", 400, "image")
    return IMAGE_TYPES[kind]


def _reason(text, field: str, label: str, limit: int) -> str:
    if not isinstance(text, str) or not text.strip():
        raise ApiError("missing_field", f"请填写{label}", 400, field)
    if len(text.strip()) > limit:
        raise ApiError("invalid_field", f"{label}不能超过{limit}个字", 400, field)
    return text.strip()


def _queue_region(person: Person) -> Region:
    """Where the person's appeal is handled: their community, else their district."""
    region = corrections.home_region(person)
    if region is None:
        raise ApiError("appeal_region_unknown", "无法确定您所属的社区或区县，请先在所住小区扫码登记或联系社区工作人员", 400)
    return region


def submit(account: Account, person: Person, reason, image: bytes | None = None,
           content_type: str | None = None) -> ColourAppeal:
    """File an appeal against the person's current non-green colour (the image already checked)."""
    text = _reason(reason, "reason", "申诉理由", REASON_MAX)
    subject = person.subject
    if not subject:
        raise ApiError("profile_incomplete", "请先完善实名信息（姓名和证件号码）", 400)
    verdict = colour.verdict(subject)
    if verdict.colour == "green":
        raise ApiError("code_is_green", "您的健康码为绿码，无需申诉", 409)
    region = _queue_region(person)

    def write() -> ColourAppeal:
        lock = Person.select(Person.id).where(Person.id == person.id)
        (lock.for_update() if is_mysql() else lock).execute()  # two submits at once: one appeal
        if ColourAppeal.select().where((ColourAppeal.person == person) & (ColourAppeal.status == "open")).exists():
            raise ApiError("appeal_open", "您已有一条待处理的申诉，请等待处理结果", 409)
        appeal = ColourAppeal.create(person=person, account=account, subject=subject, colour=verdict.colour,
                                     reasons=json.dumps([h.get("reason") for h in verdict.hits], ensure_ascii=False),
                                     reason=text, region=region, deadline=utcnow() + DEADLINE)
        if image is not None:
            AppealImage.create(appeal=appeal, content_type=content_type, content=image, size=len(image))
        audit.record(account, "citizen", "appeal_submitted", appeal, colour=verdict.colour, region=region.code,
                     image=image is not None)
        return appeal

    return run_transaction(write)


def view(appeal: ColourAppeal) -> dict:
    """An appeal as the citizen sees it."""
    return {"id": appeal.id, "colour": appeal.colour, "colour_label": colour.LABELS.get(appeal.colour, appeal.colour),
            "reasons": json.loads(appeal.reasons), "reason": appeal.reason, "status": appeal.status,
            "status_label": STATUSES[appeal.status], "answer": appeal.answer,
            "has_image": AppealImage.select().where(AppealImage.appeal == appeal).exists(),
            "submitted_at": local_iso(appeal.created_at), "deadline": local_iso(appeal.deadline),
            "escalated": appeal.escalated_at is not None, "decided_at": local_iso(appeal.decided_at),
            "correction": _correction_state(appeal)}


def _correction_state(appeal: ColourAppeal) -> str | None:
    """Where the correction an accepted appeal proposed stands."""
    if appeal.approval_id is None:
        return None
    return {"pending": "更正待审批", "approved": "已更正", "rejected": "更正未获批准"}[appeal.approval.status]


def mine(person: Person) -> list[dict]:
    """The person's appeals, newest first."""
    return [view(a) for a in ColourAppeal.select().where(ColourAppeal.person == person)
            .order_by(ColourAppeal.id.desc()).limit(50)]


# --- the officials' side -------------------------------------------------------------------------

def about(subject: str, limit: int = 20) -> list[ColourAppeal]:
    """The appeals about a person (by subject), newest first: what the officials' colour page lists."""
    return list(ColourAppeal.select().where(ColourAppeal.subject == subject).order_by(ColourAppeal.id.desc())
                .limit(limit))


def _open(admin: AdminUser, appeal_id) -> ColourAppeal:
    appeal = ColourAppeal.get_or_none(ColourAppeal.id == appeal_id)
    if appeal is None:
        raise ApiError("not_found", "申诉不存在", 404)
    admin_auth.require_scope(admin, appeal.region)
    if appeal.status != "open":
        raise ApiError("appeal_decided", f"该申诉已{STATUSES[appeal.status]}", 409)
    return appeal


def correction_choices(admin: AdminUser, appeal: ColourAppeal) -> dict[str, str]:
    """The corrections `admin` may propose when accepting an appeal: withdraw one of the person's
    list entries or close an active case (the list's owner), or set the code green for a while."""
    choices = {}
    for fact in corrections.facts_of(appeal.subject, admin):
        if fact["withdrawable"]:
            choices[f"withdraw:{fact['input']}:{fact['id']}"] = f"撤销{fact['source']}记录（{fact['date']}）"
        if fact["closable"]:
            choices[f"close:{fact['id']}"] = f"病例结案（{fact['date']}）"
    choices[OVERRIDE_CHOICE] = "人工调整为绿码（须填写有效期）"
    return choices


def accept(admin: AdminUser, appeal_id, choice, reason, expires_on=None) -> str:
    """Accept an appeal: propose the chosen correction (a second account approves it) and tell
    the citizen. Nothing is kept when the proposal is refused."""
    text = _reason(reason, "reason", "受理意见（更正原因）", 255)

    def write() -> str:
        appeal = _open(admin, appeal_id)
        choices = correction_choices(admin, appeal)
        if choice not in choices:
            raise ApiError("invalid_field", "请选择要提交的更正", 400, "choice")
        if choice == OVERRIDE_CHOICE:
            request = corrections.propose_override(admin, appeal.subject, "green", text, expires_on)
        elif choice.startswith("close:"):
            request = corrections.propose_case_closure(admin, choice.split(":")[1], text)
        else:
            _, kind, fact_id = choice.split(":")
            request = corrections.propose_withdrawal(admin, kind, fact_id, text)
        ColourAppeal.update(status="accepted", answer=f"申诉已受理：{text}", decided_by=admin, decided_at=utcnow(),
                            approval=request).where(ColourAppeal.id == appeal.id).execute()
        audit.record(None, admin.role, "appeal_accepted", appeal, admin_actor=admin, approval=request.id,
                     correction=choice)
        return f"申诉已受理，更正{corrections.PROPOSED}"

    return run_transaction(write)


def reject(admin: AdminUser, appeal_id, answer) -> str:
    """Reject an appeal with an answer the citizen reads."""
    text = _reason(answer, "answer", "驳回理由", 255)

    def write() -> str:
        appeal = _open(admin, appeal_id)
        ColourAppeal.update(status="rejected", answer=text, decided_by=admin, decided_at=utcnow()).where(
            ColourAppeal.id == appeal.id).execute()
        audit.record(None, admin.role, "appeal_rejected", appeal, admin_actor=admin, answer=text)
        return "申诉已驳回"

    return run_transaction(write)


def image_of(admin: AdminUser, appeal_id) -> AppealImage:
    """An appeal's image, for an official of its region."""
    appeal = ColourAppeal.get_or_none(ColourAppeal.id == appeal_id)
    image = AppealImage.get_or_none(AppealImage.appeal == appeal_id) if appeal else None
    if image is None:
        raise ApiError("not_found", "图片不存在", 404)
    admin_auth.require_scope(admin, appeal.region)
    return image


def _district_of(region: Region) -> Region:
    if region.level in ("province", "city", "district"):
        return region
    return next((r for r in region.ancestors() if r.level == "district"), region)


def escalate_overdue(now: dt.datetime | None = None) -> int:
    """Move every appeal still open past its deadline to its district's queue (once); returns
    how many moved. Safe to run twice."""
    now = now or utcnow()
    due = list(ColourAppeal.select().where((ColourAppeal.status == "open") & ColourAppeal.escalated_at.is_null()
                                           & (ColourAppeal.deadline < now)))
    moved = 0
    for appeal in due:
        district = _district_of(appeal.region)

        def write(appeal=appeal, district=district) -> int:
            changed = (ColourAppeal.update(region=district, escalated_at=now)
                       .where((ColourAppeal.id == appeal.id) & (ColourAppeal.status == "open")
                              & ColourAppeal.escalated_at.is_null()).execute())
            if changed:
                audit.record(None, "system", "appeal_escalated", appeal, from_region=appeal.region.code,
                             to_region=district.code)
            return changed

        moved += run_transaction(write)
    return moved
