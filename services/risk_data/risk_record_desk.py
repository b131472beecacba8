"""What the 风险数据 page (admin/risk_record_pages.py) reads and writes for the account signed in:
the kinds of risk record it may put in, the recent batches within its region with who made each,
and one person added by the 逐个录入 form, which goes through `risk_records.ingest` as a list row
does and is audited with the person's blind index (their access log shows it)."""

from __future__ import annotations

from models.admin import AdminUser
from models.fields import blind_index, utcnow
from models.regions import Region
from models.risk_inputs import RiskBatch
from services.common.timefmt import china_today
from services.oversight import audit
from services.people import identity
from services.risk_data import risk_records

RECENT_BATCHES = 50


def kinds_for(admin: AdminUser | None) -> list[risk_records.RecordKind]:
    """The kinds of record `admin` may put in (none: the page is not theirs)."""
    return [k for k in risk_records.KINDS.values() if admin is not None and admin.role in k.import_roles]


def recent_batches(admin: AdminUser, kinds: list[risk_records.RecordKind]) -> tuple[list[RiskBatch], dict[int, str]]:
    """The last RECENT_BATCHES batches of `kinds` within the account's region, newest first, and
    the names of the accounts that made them (by id)."""
    batches = (RiskBatch.select().where(RiskBatch.kind.in_([k.code for k in kinds]))
               .order_by(RiskBatch.id.desc()).limit(RECENT_BATCHES))
    region = risk_records.region_of(admin)
    if region is not None:
        within = RiskBatch.region.in_(Region.select(Region.id).where(Region.path.startswith(region.path)))
        # A batch that names no region (a city-wide partner feed) is the city's to see.
        batches = batches.where(within | RiskBatch.region.is_null() if region.level in ("province", "city")
                                else within)
    batches = list(batches)
    makers = {b.created_by_id for b in batches if b.created_by_id}
    names = dict(AdminUser.select(AdminUser.id, AdminUser.name).where(AdminUser.id.in_(makers)).tuples()) \
        if makers else {}
    return batches, names


def add_one(admin: AdminUser, kind: risk_records.RecordKind, values: dict) -> risk_records.IngestResult:
    """One person's record of `kind` typed in by `admin`: a batch of its own ("form:<id>:<time>"),
    listed today, bounded by the account's region; audited when stored."""
    result = risk_records.ingest(kind.code, [values], source_label=risk_records.organisation(admin),
                                 source_ref=f"form:{admin.id}:{utcnow():%Y%m%d%H%M%S%f}", listed_on=china_today(),
                                 region=risk_records.region_of(admin), created_by=admin)
    if result.accepted:
        audit.record(None, admin.role, "risk_record_add", RiskBatch.get_by_id(result.batch_id),
                     admin_actor=admin, kind=kind.code, reason=kind.label,
                     subjects=[blind_index(identity.normalize_id_number(values.get("id_number") or ""), "id_number")])
    return result
