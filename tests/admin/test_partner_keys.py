"""合作方密钥 in the back office (D3): the city admin and the city health commission create a
partner key and see its secret once; a revoked key signs nothing any more; other roles and
regions cannot open the page."""

from __future__ import annotations

import re

from models.db import db
from models.fieldwork import OperationLog
from models.partners import PartnerCredential
from services.accounts import admin_auth
from tests.admin.conftest import AdminClient, page_error
from tests.api.test_partner_feed import Partner, batch, contact, stored
from tests.conftest import assert_error

SECRET = re.compile(r"<dt>密钥（仅显示这一次）</dt><dd>([A-Za-z0-9_-]{40,})</dd>")


def create_key(client: AdminClient, **form) -> tuple[int, str]:
    """Submit the new-key form; (the key's row id, the detail page it lands on)."""
    response = client.post("/admin/r/partner_keys/new", form, allow_redirects=False)
    assert response.status_code == 302, page_error(response) or response.text[:500]
    row_id = int(re.search(r"/admin/r/partner_keys/(\d+)", response.headers["Location"]).group(1))
    return row_id, client.get(response.headers["Location"]).text


def test_create_shows_the_secret_once_and_revoke_stops_the_key(office, as_admin):
    city = as_admin("city")
    row_id, page = create_key(city, name="市公安局", kind_close_contact="on", kind_key_person="on")
    secret = SECRET.search(page).group(1)
    credential = PartnerCredential.get_by_id(row_id)
    assert credential.granted() == ["close_contact", "key_person"] and credential.region.code == "410100"
    # Stored encrypted: the column holds no trace of the secret.
    assert secret not in _raw_secret(row_id)
    again = city.get(f"/admin/r/partner_keys/{row_id}").text
    assert SECRET.search(again) is None and "已隐藏" in again and secret not in again
    assert secret not in city.get("/admin/r/partner_keys/").text

    partner = Partner(office.base_url, credential.key_id, secret)
    assert partner.send(batch("p-1", [contact(1)])).status_code == 200

    refused = city.post(f"/admin/r/partner_keys/{row_id}/do/revoke", {"reason": ""})
    assert "请填写吊销原因" in page_error(refused)
    assert PartnerCredential.get_by_id(row_id).status == "active"
    done = city.post(f"/admin/r/partner_keys/{row_id}/do/revoke", {"reason": "合作终止"}, allow_redirects=False)
    assert done.status_code == 302
    assert PartnerCredential.get_by_id(row_id).status == "revoked"
    before = stored()
    assert_error(partner.send(batch("p-2", [contact(2)])), 401, "key_revoked")
    assert stored() == before
    actions = [a for (a,) in OperationLog.select(OperationLog.action).where(
        (OperationLog.target_type == "partner_credential") & (OperationLog.target_id == row_id)).tuples()]
    assert actions == ["partner_key_created", "partner_batch_received", "partner_key_revoked"]


def _raw_secret(row_id: int) -> str:
    """The secret column as stored in the database."""
    return db.execute_sql("SELECT secret FROM partner_credential WHERE id = " + str(row_id)).fetchone()[0]


def test_the_health_commission_creates_keys_and_others_cannot(office, as_admin):
    admin_auth.create_admin(None, phone="13810000009", name="市卫健委", role="health_city", region_code="410100",
                            send_sms=False, password="Health@2026")
    health = AdminClient(office.base_url)
    assert health.login("13810000009", "Health@2026").status_code == 302
    assert "合作方密钥" in health.get("/admin/r/partner_keys/").text
    row_id, page = create_key(health, name="市卫健委信息中心", region_code="410105", kind_case="on")
    assert SECRET.search(page) and PartnerCredential.get_by_id(row_id).region.code == "410105"
    # Nothing granted, or a region the admin does not cover: refused, nothing kept.
    count = PartnerCredential.select().count()
    response = health.post("/admin/r/partner_keys/new", {"name": "无授权"})
    assert "请至少授权一类数据" in page_error(response)
    response = health.post("/admin/r/partner_keys/new", {"name": "外省", "region_code": "420100", "kind_case": "on"})
    assert page_error(response)
    assert PartnerCredential.select().count() == count
    # A district admin has no such page.
    district = as_admin("jinshui")
    assert district.get(f"/admin/r/partner_keys/{row_id}").status_code == 403
    assert "合作方密钥" not in district.get("/admin/r/residents/").text
