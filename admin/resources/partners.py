"""合作方密钥 (D3): the keys partner systems sign `feedRiskRecords` with. The city admin and the
city health commission / CDC create one per partner (name, region, the record kinds it may feed),
see its secret once, right after creating it, and revoke it with a reason; every step audited."""

from __future__ import annotations

from admin.resources.common import time_column
from admin.site import Action, Column, Filter, Resource, Search, site
from models.partners import PartnerCredential
from services.common.forms import FormField
from services.common.timefmt import local_iso
from services.oversight import audit  # noqa: F401
from services.risk_data import health_authority, partner_feed, risk_records  # noqa: F401  (health roles)

STATUSES = {"active": "有效", "revoked": "已吊销"}
ACTIONS = {"partner_key_created": "创建密钥", "partner_key_revoked": "吊销密钥", "partner_batch_received": "报送数据"}
KIND_FIELD = "kind_"


def _revoke(ctx, row, data) -> str:
    partner_feed.revoke_credential(ctx.admin, row, data["reason"])
    return "密钥已吊销，此后用它签名的请求将被拒绝"


def _kind_label(code: str) -> str:
    kind = risk_records.KINDS.get(code)
    return kind.label if kind else code


def _kinds_label(row) -> str:
    return "、".join(_kind_label(code) for code in row.granted())


CREATE_FORM = (FormField("name", "合作方名称（如 市公安局）"),
               FormField("region_code", "所属区域代码（不填为本账号的区域）", "region_code", required=False),
               *(FormField(KIND_FIELD + code, f"可报送：{kind.label}", "bool", required=False)
                 for code, kind in risk_records.KINDS.items()))
REVOKE = Action("revoke", "吊销", _revoke, allowed=lambda row: row.status == "active",
                confirm="吊销后，用该密钥签名的所有请求都将被拒绝（401），且不可恢复。",
                form=(FormField("reason", "吊销原因", max_len=255),))


@site.register
class PartnerKeyAdmin(Resource):
    name, label, model = "partner_keys", "合作方密钥", PartnerCredential
    menu_group = "风险数据"
    roles = ("city", "health_city", "cdc_city")
    columns = (Column("name", "合作方"), Column("key_id", "密钥编号"), Column("kinds", "可报送的数据", _kinds_label),
               Column("region", "所属区域", lambda r: r.region.full_name()),
               Column("status", "状态", lambda r: STATUSES.get(r.status, r.status)),
               Column("created_by", "创建人", lambda r: r.created_by.name if r.created_by_id else "系统"),
               time_column("created_at", "创建时间"), time_column("last_used_at", "最近使用"),
               time_column("revoked_at", "吊销时间"), Column("revoke_reason", "吊销原因", lambda r: r.revoke_reason or ""))
    list_display = ("name", "key_id", "kinds", "region", "status", "created_at", "last_used_at")
    searches = (Search.contains(PartnerCredential.name, "合作方"),
                Search("key_id", "密钥编号", lambda q, v: q.where(PartnerCredential.key_id == v.strip())))
    filters = (Filter.on(PartnerCredential.status, "状态", STATUSES),)
    create_form, actions = CREATE_FORM, (REVOKE,)
    base_query = staticmethod(partner_feed.credentials)

    def create(self, ctx, data):
        kinds = [name[len(KIND_FIELD):] for name, value in data.items() if name.startswith(KIND_FIELD) and value]
        return partner_feed.create_credential(ctx.admin, name=data["name"], kinds=kinds,
                                              region_code=data.get("region_code"))[0]

    def detail_sections(self, ctx, row):
        return _detail_sections(ctx.admin, row)


def _detail_sections(admin, row) -> list:
    """签名密钥 (the secret shown once, right after creating it), 最近的批次 and 操作记录."""
    secret = partner_feed.reveal_secret(admin, row) if row.status == "active" else None
    if secret is not None:
        key = [("密钥编号", row.key_id), ("密钥（仅显示这一次）", secret),
               ("请注意", "请立即复制并通过安全渠道交给合作方。离开本页后无法再次查看；如遗失，请吊销后重新创建。")]
    else:
        key = [("密钥编号", row.key_id), ("密钥", "已隐藏（只在创建后显示一次）")]
    sent = [(f"{b.batch_id}（{_kind_label(b.kind)}）",
             f"{local_iso(b.received_at)[:19].replace('T', ' ')} 收到 {b.received} 条，入库 {b.accepted} 条，"
             f"拒绝 {b.rejected} 条") for b in partner_feed.recent_batches(row)]
    log = [(item["at"][:19].replace("T", " "),
            f"{item['who']}：{ACTIONS.get(item['action'], item['action'])}"
            + (f"（{item['detail']['reason']}）" if item["detail"].get("reason") else "")) for item in audit.about(row)]
    return [("签名密钥", key), ("最近的批次", sent or [("", "尚未收到数据")]), ("操作记录", log)]
