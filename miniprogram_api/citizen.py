"""The citizen's own API: the real-name profile (A5, A6)."""

from __future__ import annotations

from handlers.base import ApiHandler, operation
from miniprogram_api import fields
from handlers.schema import Bool, Str, model, response_model
from services.people import identity, profile

_OPTIONAL = {"required": False, "nullable": True}

PROFILE_UPDATE = model("ProfileUpdate", {
    "name": Str("姓名", min_len=1, max_len=64, required=False),
    "gender": Str("性别", choices=tuple(profile.GENDERS), required=False),
    "id_type": Str("证件类型", choices=tuple(identity.ID_TYPES), required=False),
    "id_number": Str("证件号码", max_len=32, required=False),
    "phone": fields.phone("手机号码", required=False),
    "address": Str("居住地址", max_len=255, **_OPTIONAL),
    "building": Str("楼号", max_len=32, **_OPTIONAL),
    "unit": Str("单元号", max_len=32, **_OPTIONAL),
    "room": Str("房间号", max_len=32, **_OPTIONAL),
    "resident_category": Str("居住类别", choices=tuple(profile.RESIDENT_CATEGORIES), **_OPTIONAL),
    "employer": Str("工作单位", max_len=128, **_OPTIONAL),
}, description="只需提交要修改的字段；首次填写须包含姓名和证件号码")

PROFILE = response_model("Profile", {
    "name": Str("姓名（脱敏）", nullable=True),
    "gender": Str("性别", nullable=True),
    "id_type": Str("证件类型"),
    "id_number": Str("证件号码（脱敏）", nullable=True),
    "phone": Str("手机号码（脱敏）", nullable=True),
    "phone_verified": Bool("手机号是否经平台验证"),
    "address": Str("居住地址", nullable=True),
    "building": Str("楼号", nullable=True),
    "unit": Str("单元号", nullable=True),
    "room": Str("房间号", nullable=True),
    "resident_category": Str("居住类别", nullable=True),
    "employer": Str("工作单位", nullable=True),
    "complete": Bool("实名信息是否完整"),
    "updated_at": Str("最后修改时间", required=False),
}, description="实名信息；姓名、证件号码、手机号码均已脱敏")


class ProfileHandler(ApiHandler):
    @operation("getProfile", "查看我的实名信息（脱敏）", response=PROFILE, errors=(401,))
    def get(self):
        return profile.get_profile(self.current_account)

    @operation("updateProfile", "填写或修改我的实名信息", body=PROFILE_UPDATE, response=PROFILE, errors=(400, 401))
    def put(self, body):
        return profile.update_profile(self.current_account, body)


def routes(config) -> list:
    """The citizen routes."""
    return [(r"/api/v1/me/profile", ProfileHandler)]
