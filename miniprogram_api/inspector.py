"""Checking other people's codes (E1, E4): inspectors and medical staff verify a health code."""

from __future__ import annotations

from handlers.base import ApiHandler, operation
from handlers.schema import Any_, List, Schema, Str
from services import colour, declarations, health_codes, identity

VERIFY = Schema("VerifyHealthCodeRequest", {"payload": Str("扫描到的健康码内容（动态码、纸质码或截图中的码）", max_len=2048)})
VERIFIED = Schema("VerifiedHealthCode", {
    "code_kind": Str("dynamic（动态码）或 paper（纸质码）"),
    "issued_at": Str("签发时间"),
    "name": Str("姓名（脱敏）"),
    "id_number": Str("证件号码（脱敏）"),
    "phone": Str("手机号（脱敏）", nullable=True),
    "colour": Str("当前颜色"),
    "colour_label": Str("颜色名称"),
    "reasons": List(Str(), "赋码原因"),
    "guidance": List(Str(), "解除指引"),
    "latest_declaration": Any_("最近一次健康申报", nullable=True),
})


class VerifyHealthCodeHandler(ApiHandler):
    roles = ("inspector", "medical")

    @operation("verifyHealthCode", "核验健康码：验签、有效期、作废状态，返回脱敏身份和当前颜色", body=VERIFY,
               response=VERIFIED, errors=(400, 403))
    def post(self, body):
        person, claims = health_codes.resolve(body["payload"], self.config)
        verdict = colour.verdict(person.subject).as_dict(self.config.colour_scheme)
        return {
            "code_kind": "paper" if claims["t"] == health_codes.KIND_PAPER else "dynamic",
            "issued_at": health_codes.issued_at_of(claims),
            "name": identity.mask_name(person.name),
            "id_number": identity.mask_id_number(person.id_number),
            "phone": identity.mask_phone(person.phone) or None,
            "colour": verdict["colour"], "colour_label": verdict["colour_label"],
            "reasons": verdict["reasons"], "guidance": verdict["guidance"],
            "latest_declaration": declarations.latest_declaration(person),
        }


def routes(config) -> list:
    """The code-checking routes."""
    return [(r"/api/v1/health-codes/verify", VerifyHealthCodeHandler)]
