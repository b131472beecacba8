"""Places and place codes (B2, B3): create, look up by token, revoke and re-issue, blank batches
and their activation, and the images a place code is printed as."""

from __future__ import annotations

import functools
import json
import secrets
from typing import Callable

from models.db import db
from models.fields import blind_index, utcnow
from models.places import CodeBatch, Place, PlaceCode
from models.regions import Region
from services.common.errors import ApiError
from services.common.forms import clean_form
from services.people import identity
from services.venues import place_code_images
from services.venues.place_types import PlaceType, place_type

MAX_BATCH = 100_000
PRINT_PART = 100  # posters per PDF of a batch (about 20 MB)
ZIP_PART = 500  # bare QR PNGs per ZIP of a batch (a few seconds to draw)


def new_token() -> str:
    """128 random bits, URL-safe: a code that cannot be guessed from another."""
    return secrets.token_urlsafe(16)


def code_url(config, token: str) -> str:
    """What the QR code holds: the H5 scan page, which the mini-program also recognises."""
    return f"{config.public_base_url.rstrip('/')}/s/{token}"


def create_place(*, place_type_code: str, name: str, region: Region | None = None, address: str | None = None,
                 contact_name: str | None = None, contact_phone: str | None = None, details: dict | None = None,
                 admin=None) -> tuple[Place, PlaceCode]:
    """A new place with its first code."""
    kind = place_type(place_type_code)
    if not (name or "").strip():
        raise ApiError("missing_field", "请填写场所名称", 400, "name")
    if kind.category == "compound" and (region is None or region.level != "compound"):
        raise ApiError("invalid_region", "小区类场所必须对应一个小区区域", 400, "region")
    phone = identity.validate_phone(contact_phone, "contact_phone") if contact_phone else None
    with db.atomic():
        place = Place.create(place_type=kind.code, name=name.strip()[:128], region=region, address=address,
                             contact_name=contact_name, contact_phone=phone,
                             contact_phone_bidx=blind_index(phone, "phone"),
                             details=json.dumps(details or {}, ensure_ascii=False), admin=admin,
                             activated_at=utcnow())
        code = PlaceCode.create(token=new_token(), place_type=kind.code, place=place, status="active",
                                activated_at=utcnow())
    return place, code


def _batch_size(value) -> int:
    text = str(value).strip() if isinstance(value, (int, str)) and not isinstance(value, bool) else ""
    if not text.isdigit() or not 1 <= int(text) <= MAX_BATCH:
        raise ApiError("invalid_batch_size", f"每批数量应为 1 至 {MAX_BATCH:,} 的整数", 400, "size")
    return int(text)


def generate_batch(place_type_code: str, size, *, region: Region | None = None, created_by=None,
                   created_by_admin=None) -> CodeBatch:
    """`size` (1 to MAX_BATCH) blank codes of a pre-generated type, to print and hand out (B3);
    `region`: the district they are for (their places' region when activated). All or nothing."""
    kind = place_type(place_type_code)
    if not kind.pre_generated:
        raise ApiError("not_pre_generated", f"{kind.label}的场所码不采用预先生成方式", 400, "place_type")
    size = _batch_size(size)
    with db.atomic():
        batch = CodeBatch.create(place_type=kind.code, size=size, region=region, created_by=created_by,
                                 created_by_admin=created_by_admin)
        now = utcnow()
        for start in range(0, size, 1000):
            rows = [(new_token(), kind.code, batch.id, "blank", now) for _ in range(min(1000, size - start))]
            PlaceCode.insert_many(rows, fields=(PlaceCode.token, PlaceCode.place_type, PlaceCode.batch,
                                                PlaceCode.status, PlaceCode.created_at)).execute()
    return batch


def batch_parts(batch: CodeBatch, per_part: int) -> int:
    """How many print files (of `per_part` codes) a batch is downloaded as."""
    return -(-batch.size // per_part)


def _batch_codes(batch: CodeBatch, part, per_part: int) -> list[tuple[int, str]]:
    """Part `part` (1-based) of the batch's codes as (serial number in the batch, token)."""
    parts = batch_parts(batch, per_part)
    if not str(part).isdigit() or not 1 <= int(part) <= parts:
        raise ApiError("invalid_field", f"份数应为 1 至 {parts}", 400, "part")
    offset = (int(part) - 1) * per_part
    tokens = (PlaceCode.select(PlaceCode.token).where(PlaceCode.batch == batch).order_by(PlaceCode.id)
              .offset(offset).limit(per_part).tuples())
    return [(offset + i + 1, token) for i, (token,) in enumerate(tokens)]


def _batch_serial(batch: CodeBatch, serial: int) -> str:
    """The number printed on a blank code: batch and position (P12-000345)."""
    return f"P{batch.id}-{serial:06d}"


BLANK_INSTRUCTIONS = ("1. 场所管理人员首次扫码，填写信息激活本码", "2. 激活后张贴于入口醒目位置", "3. 市民扫码登记，出示结果通行")


def batch_print(batch: CodeBatch, part, fmt: str, config,
                watermark: str | None = None) -> tuple[Callable[[], bytes], str, int]:
    """One part of a batch to print: "pdf" (PRINT_PART posters, a page each) or "zip" (ZIP_PART
    bare QR PNGs named by their serial numbers), with the exporter's `watermark` line. The drawing
    is returned undone, for an executor, with its MIME type and number of codes."""
    kind = place_type(batch.place_type)
    region_name = batch.region.full_name() if batch.region_id else ""
    if fmt == "pdf":
        codes = _batch_codes(batch, part, PRINT_PART)
        posters = [{"text": code_url(config, token), "place_name": f"{kind.label}场所码 {_batch_serial(batch, n)}",
                    "type_label": f"{kind.label}（待激活）", "address": region_name,
                    "instructions": BLANK_INSTRUCTIONS} for n, token in codes]
        return functools.partial(place_code_images.posters_pdf, posters, watermark), "application/pdf", len(codes)
    if fmt == "zip":
        codes = _batch_codes(batch, part, ZIP_PART)
        return (functools.partial(place_code_images.qr_zip, [(_batch_serial(batch, n), code_url(config, token))
                                                             for n, token in codes], watermark),
                "application/zip", len(codes))
    raise ApiError("invalid_field", "格式应为 pdf 或 zip", 400, "format")


def batch_activations(batch: CodeBatch) -> int:
    """How many of the batch's codes have been activated (a place made on their first scan)."""
    return PlaceCode.select().where((PlaceCode.batch == batch) & PlaceCode.activated_at.is_null(False)).count()


def find_code(token: str) -> PlaceCode:
    """The code behind a token, blank or active; unknown and revoked codes are 404s."""
    code = PlaceCode.get_or_none(PlaceCode.token == token) if isinstance(token, str) and len(token) <= 32 else None
    if code is None:
        raise ApiError("unknown_place_code", "无法识别的场所码", 404, "code")
    if code.status == "revoked":
        raise ApiError("place_code_revoked", "该场所码已作废，请扫描场所张贴的新码", 404, "code")
    return code


def active_place(token: str) -> tuple[PlaceCode, Place]:
    """The code and its place, for a scan: blank or closed places cannot be scanned."""
    code = find_code(token)
    if code.status == "blank":
        raise ApiError("place_code_not_activated", "该场所码尚未激活，请联系场所管理人员", 409, "code")
    place = code.place
    if place.status != "active":
        raise ApiError("place_closed", "该场所已停用", 409, "code")
    return code, place


def activate(token: str, answers: dict, account) -> Place:
    """The first scan of a blank code by its recipient: the activation form makes the place."""
    code = find_code(token)
    if code.status != "blank":
        raise ApiError("place_code_already_active", "该场所码已激活", 409, "code")
    kind: PlaceType = place_type(code.place_type)
    form = clean_form(kind.activation_form, answers)
    region = None
    if form.get("district_code"):
        region = Region.get_or_none((Region.code == form["district_code"]) & (Region.level == "district"))
        if region is None:
            raise ApiError("unknown_region", "所属区县不存在", 400, "form.district_code")
    elif code.batch_id and code.batch.region_id:
        region = code.batch.region
    phone = form.get("contact_phone")
    with db.atomic():
        # The status check is repeated in the UPDATE so that two first scans cannot both win.
        place = Place.create(place_type=kind.code, name=form[kind.name_field], region=region,
                             address=form.get("address"), contact_name=form.get("contact_name"),
                             contact_phone=phone, contact_phone_bidx=blind_index(phone, "phone"),
                             details=json.dumps(form, ensure_ascii=False), admin=account, activated_at=utcnow())
        claimed = (PlaceCode.update(status="active", place=place, activated_at=utcnow())
                   .where((PlaceCode.id == code.id) & (PlaceCode.status == "blank")).execute())
        if not claimed:
            db.rollback()
            raise ApiError("place_code_already_active", "该场所码已激活", 409, "code")
    return place


def current_code(place: Place) -> PlaceCode:
    """The place's active code."""
    code = (PlaceCode.select().where((PlaceCode.place == place) & (PlaceCode.status == "active"))
            .order_by(PlaceCode.id.desc()).first())
    if code is None:
        raise ApiError("place_code_missing", "该场所没有有效的场所码", 404)
    return code


def reissue(place: Place) -> PlaceCode:
    """Revoke the place's codes (a defaced or copied poster) and give it a new one."""
    with db.atomic():
        PlaceCode.update(status="revoked", revoked_at=utcnow()).where(
            (PlaceCode.place == place) & (PlaceCode.status == "active")).execute()
        return PlaceCode.create(token=new_token(), place_type=place.place_type, place=place, status="active",
                                activated_at=utcnow())


def place_view(place: Place) -> dict:
    """A place as a scanning client sees it."""
    kind = place_type(place.place_type)
    return {"id": place.id, "name": place.name, "type": kind.code, "type_label": kind.label,
            "address": place.address or (place.region.full_name() if place.region_id else None)}


IMAGE_FORMATS = {"png": "image/png", "svg": "image/svg+xml", "poster.png": "image/png",
                 "poster.pdf": "application/pdf"}


def code_image(place: Place, fmt: str, config) -> tuple[Callable[[], bytes], str]:
    """The drawing of the place's current code (QR PNG or SVG, or a poster as PNG or PDF) and its
    MIME type. The drawing is returned undone: it is CPU work for an executor thread, and it
    needs no database."""
    if fmt not in IMAGE_FORMATS:
        raise ApiError("invalid_field", "格式应为 png、svg、poster.png 或 poster.pdf", 400, "format")
    url = code_url(config, current_code(place).token)
    if fmt == "png":
        return functools.partial(place_code_images.qr_png, url), IMAGE_FORMATS[fmt]
    if fmt == "svg":
        return functools.partial(place_code_images.qr_svg, url), IMAGE_FORMATS[fmt]
    view = place_view(place)
    draw = place_code_images.poster_png if fmt == "poster.png" else place_code_images.poster_pdf
    region_name = place.region.full_name() if place.region_id else None
    return functools.partial(draw, text=url, place_name=place.name, type_label=view["type_label"],
                             address=view["address"] or "", region_name=region_name), IMAGE_FORMATS[fmt]


async def wxa_code(place: Place, gateway, page: str = "pages/scan/index") -> bytes:
    """The WeChat mini-program code for the place (scene = token), when WeChat is configured."""
    return await gateway.wxa_code(current_code(place).token, page)
