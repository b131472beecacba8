"""Partner systems (D3): `feedRiskRecords`, signed batches of risk records (services/risk_data/partner_feed.py
holds the signing scheme and the batch rules; the back office issues the keys)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import tornado.ioloop

from handlers import routing
from handlers.base import BaseHandler, operation
from handlers.schema import Bool, Date, Int, List, Obj, Open, Str, model, response_model
from models.db import db
from services.risk_data import partner_feed, risk_records

SIGNING = (
    "每个请求带四个请求头：X-Partner-Key（密钥编号）、X-Partner-Timestamp（Unix 秒，与服务器时间相差不超过5分钟）、"
    "X-Partner-Nonce（16-64位 [A-Za-z0-9_-]，同一密钥不得重复使用）、X-Partner-Signature。"
    "签名 = 小写十六进制的 HMAC-SHA256(key=密钥的 UTF-8 字节, message=待签名串)，待签名串为\n\n"
    "    METHOD + \"\\n\" + PATH + \"\\n\" + TIMESTAMP + \"\\n\" + NONCE + \"\\n\" + hex(SHA-256(请求体原始字节))\n\n"
    "METHOD 为大写（POST），PATH 为不含查询串的路径（/api/v1/partner/risk-records），TIMESTAMP 与 NONCE 与请求头完全一致。"
    "签名错误、密钥不存在或已吊销、时间戳超出5分钟、随机串重复使用均返回 401，且不保存任何数据。"
)
HEADER_PARAMETERS = [
    {"name": partner_feed.HEADERS["key"], "in": "header", "required": True, "description": "密钥编号（后台创建合作方密钥时显示）",
     "schema": {"type": "string", "maxLength": 32}},
    {"name": partner_feed.HEADERS["timestamp"], "in": "header", "required": True,
     "description": "Unix 时间（秒），与服务器时间相差不超过5分钟", "schema": {"type": "string", "pattern": r"^\d{1,12}$"}},
    {"name": partner_feed.HEADERS["nonce"], "in": "header", "required": True, "description": "随机串，同一密钥不得重复使用",
     "schema": {"type": "string", "pattern": "^" + partner_feed.NONCE_RE.pattern + "$"}},
    {"name": partner_feed.HEADERS["signature"], "in": "header", "required": True,
     "description": "签名（小写十六进制 HMAC-SHA256），见接口说明", "schema": {"type": "string", "pattern": "^[0-9a-f]{64}$"}},
]


def _records_description() -> str:
    """The fields of a record of each kind, from the kinds' declarations (services/risk_data/risk_records.py)."""
    lines = []
    for code, kind in risk_records.KINDS.items():
        fields = "，".join(f"{c.key}（{c.header}{'，必填' if c.required else ''}"
                          f"{'：' + '/'.join(value for value, _ in c.choices) if c.choices else ''}）"
                          for c in kind.fields)
        lines.append(f"{code}（{kind.label}）：{fields}")
    return "每条记录是一个对象，字段随 kind 而定（日期为 YYYY-MM-DD）：\n" + "\n".join(lines)


class RecordBatch(List):
    """The batch's records: a batch over the limit is a 413 (too large), not a 400."""

    def explain(self, kind, who, value):
        if kind == "too_long":
            return "batch_too_large", f"每批最多 {self.max_items} 条记录（本批 {len(value)} 条）", 413
        if kind == "too_short":
            return "empty_batch", "批次中没有记录"
        return super().explain(kind, who, value)


FEED = model("FeedRiskRecordsRequest", {
    "batch_id": Str("批次号（同一合作方内唯一；重发同一批次不会重复入库）", max_len=64,
                    pattern=partner_feed.BATCH_ID_RE.pattern, example="police-20260301-0001"),
    "kind": Str("数据类型", choices=risk_records.KINDS, max_len=32),
    "listed_on": Date("名单日期（不填为今天）", required=False),
    "records": RecordBatch(Open("一条记录，字段见 kind 对应的数据类型说明"), "记录", max_items=partner_feed.MAX_RECORDS, min_items=1,
                           description=_records_description()),
}, description="一批同一类型的风险数据。")
REJECTED = response_model("RejectedRecord", {"index": Int("记录序号（从0开始）"), "field": Str("出错的字段", nullable=True),
                                     "code": Str("错误码"), "message": Str("原因")})
FEED_RESULT = response_model("FeedRiskRecordsResult", {
    "batch_id": Str("批次号"), "kind": Str("数据类型"), "received": Int("收到记录数"), "accepted": Int("入库记录数"),
    "duplicates": Int("已入库过的记录数（未重复入库）"),
    "rejected": List(Obj(REJECTED), "被拒绝的记录", max_items=partner_feed.MAX_RECORDS),
    "received_at": Str("首次收到时间"), "replayed": Bool("是否为重发（返回首次结果，未重复入库）"),
})

# A batch is up to 10,000 records, a second or more of database work: it runs on threads of its
# own, so the event loop keeps answering scans meanwhile (on MySQL; SQLite has one writer anyway).
_FEED_THREADS = ThreadPoolExecutor(max_workers=2, thread_name_prefix="partner-feed")


def _feed_on_thread(signed: partner_feed.SignedRequest, body: dict) -> dict:
    # Connection back (to the pool, or closed on SQLite) after the batch, as after any request: a
    # connection a pool thread kept would outlive the database it was opened on.
    with db.connection_context():
        return partner_feed.feed(signed, body)


class FeedHandler(BaseHandler):
    """POST /api/v1/partner/risk-records, signed by the partner's key (see SIGNING)."""

    openapi_tag = ("partner", "合作方系统（公安、卫健委、通信大数据平台）以签名请求报送风险数据")
    security_scheme = ("partnerSignature", {"type": "apiKey", "in": "header", "name": partner_feed.HEADERS["signature"],
                                            "description": SIGNING})
    header_parameters = HEADER_PARAMETERS

    def body_limit(self) -> int:
        # Never above what the HTTP server reads at all (past that it answers 413 itself).
        return min(self.config.partner_max_body_bytes, routing.SERVER_MAX_BODY)

    def checks_caller(self) -> bool:
        return True

    def authenticate(self) -> None:
        self.signed = partner_feed.authenticate(self.request.method, self.request.path, self.request.headers,
                                                self.request.body or b"")

    @operation("feedRiskRecords", "合作方报送风险数据（批量，签名）", body=FEED, response=FEED_RESULT,
               errors=(401, 403, 409, 413), description=SIGNING + "\n\n每批最多 10,000 条、同一类型；合作方只能报送授权的"
               "数据类型（否则 403），记录须在其所属区域内。同一批次号重发不会重复入库，返回首次的结果（replayed 为 true）；"
               "同一批次号而内容不同返回 409。重试（如超时后）须使用新的时间戳、随机串和签名。被拒绝的记录逐条列出序号与原因，其余记录入库并立即重算健康码颜色。")
    async def post(self, body):
        return await tornado.ioloop.IOLoop.current().run_in_executor(_FEED_THREADS, _feed_on_thread, self.signed, body)


def routes(config) -> list:
    """The partner routes."""
    return [(r"/api/v1/partner/risk-records", FeedHandler)]
