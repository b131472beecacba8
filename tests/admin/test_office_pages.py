"""Back-office pages for what only a command could do (issue 20 item 5), on both databases:
网格组织审核 and 网格员授权 (seed 003), 医护人员权限 with the 表4-1 import, and 空白码批次 with their
print files and activation counts. Each bad input shows its clear error and writes nothing."""

from __future__ import annotations

import io
import json
import re
import zipfile

from PIL import PdfParser

from models.accounts import AccountRole
from models.admin import AdminUser
from models.fieldwork import Grid, GridMembership, OperationLog
from models.medical_staff import MedicalStaff
from models.places import CodeBatch, PlaceCode
from services.accounts import auth, phone_auth
from services.fieldwork import grids, medical_staff
from services.operations.demo import DEMO_ADMIN_PASSWORD
from services.people import profile
from services.venues import places
from tests.admin.conftest import AdminClient, page_error
from tests.conftest import make_id_number, row_counts
from tests.fakes import xlsx_files as files

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _citizen(openid: str, n: int, name: str, phone: str, *, verified: bool = False):
    account = auth.sign_in("dev", openid).account
    profile.update_profile(account, {"name": name, "id_number": make_id_number(n), "phone": phone})
    if verified:
        profile.bind_verified_phone(account, phone)
    return account


def _office_client(office, phone: str, password: str) -> AdminClient:
    client = AdminClient(office.base_url)
    assert client.login(phone, password).status_code == 302
    return client


# --- grids ----------------------------------------------------------------------------------------------

def _second_grid():
    """A grid waiting for approval in 农业路社区, with one worker; and a worker of the demo grid."""
    admin = _citizen("grid-admin-2", 901, "钱网格", "13700000011")
    grid = grids.create_grid(admin, {"region_code": "410105002001", "name": "农业路社区一网格"})
    worker = _citizen("grid-worker-2", 902, "郑网格员", "13700000012")
    grids.bind_grid(worker, grid.declaration_code)
    demo_grid = Grid.get(Grid.name == "黄河路社区一网格")
    own_worker = _citizen("grid-worker-1", 903, "冯网格员", "13700000013")
    grids.bind_grid(own_worker, demo_grid.declaration_code)
    return grid, demo_grid


def test_the_system_admin_approves_a_grid_and_its_admin_gets_the_worker_platform(office, as_admin, sms):
    grid, _ = _second_grid()
    city = as_admin("city")
    listing = city.get("/admin/r/grids/", params={"approved": "0"})
    assert listing.status_code == 200 and "农业路社区一网格" in listing.text and "钱*" in listing.text
    assert "13700000011" not in listing.text  # masked
    # A district admin of another district cannot approve it.
    other = as_admin("erqi").post(f"/admin/r/grids/{grid.id}/do/approve_grid", allow_redirects=False)
    assert other.status_code == 403 and not Grid.get_by_id(grid.id).approved
    # The SMS with the new account's password cannot go out: nothing is approved or created.
    before = row_counts()
    sms.failing = True
    failed = city.post(f"/admin/r/grids/{grid.id}/do/approve_grid", allow_redirects=False)
    sms.failing = False
    assert failed.status_code == 503 and page_error(failed) == "短信发送失败，请稍后再试"
    assert not Grid.get_by_id(grid.id).approved and row_counts() == before
    done = city.post(f"/admin/r/grids/{grid.id}/do/approve_grid", allow_redirects=False)
    assert done.status_code == 302
    assert "已为网格管理员开通网格员管理平台账号" in city.get(done.headers["Location"].replace(office.base_url, "")).text
    approved = Grid.get_by_id(grid.id)
    assert approved.approved and approved.office_admin.role == "grid_admin"
    assert approved.office_admin.region.code == "410105002001"
    password = re.search(r"初始密码为(\S+?)，", sms.messages[-1][2]).group(1)
    assert sms.messages[-1][0] == "13700000011"
    assert OperationLog.select().where((OperationLog.action == "approve_grid") & (OperationLog.target_id == grid.id)).count() == 1
    # Approving again is refused, and writes nothing.
    before = row_counts()
    again = city.post(f"/admin/r/grids/{grid.id}/do/approve_grid", allow_redirects=False)
    assert again.status_code == 409
    assert row_counts() == before
    # The grid admin signs in to 网格员管理平台 and authorises its worker.
    grid_admin = _office_client(office, "13700000011", password)
    workers = grid_admin.get("/admin/r/grid_workers/")
    assert workers.status_code == 200 and "郑*" in workers.text and "冯*" not in workers.text
    member = GridMembership.get(GridMembership.grid == grid)
    assert grid_admin.post(f"/admin/r/grid_workers/{member.id}/do/authorise", allow_redirects=False).status_code == 302
    assert GridMembership.get_by_id(member.id).status == "approved"


def test_an_approval_by_another_grids_admin_is_refused(office, as_admin):
    """Bad input: the demo grid's admin (same district) tries to authorise a worker of another grid."""
    grid, demo_grid = _second_grid()
    grids.approve_grid(grid.id, send_sms=False, password="Other@2026x")
    intruder = _office_client(office, "13700000004", DEMO_ADMIN_PASSWORD)  # the demo grid's admin
    foreign = GridMembership.get(GridMembership.grid == grid)
    before = row_counts()
    for response in (intruder.get(f"/admin/r/grid_workers/{foreign.id}"),
                     intruder.post(f"/admin/r/grid_workers/{foreign.id}/do/authorise", allow_redirects=False)):
        assert response.status_code == 403
        assert page_error(response) == "只能审核本网格的网格员，该网格员属于其他网格"
    assert GridMembership.get_by_id(foreign.id).status == "pending" and row_counts() == before
    # The service says the same, with its code and field.
    try:
        grids.authorise_member(AdminUser.get(AdminUser.role == "grid_admin", AdminUser.id == demo_grid.office_admin_id),
                               foreign)
    except Exception as error:  # noqa: BLE001 - the ApiError is what is checked
        assert (error.code, error.status, error.field) == ("not_your_grid", 403, "grid")
    else:
        raise AssertionError("another grid's admin authorised a worker")
    # Its own worker it may authorise; a city admin has no worker page at all.
    own = GridMembership.get(GridMembership.grid == demo_grid)
    assert intruder.post(f"/admin/r/grid_workers/{own.id}/do/authorise", allow_redirects=False).status_code == 302
    assert as_admin("city").get("/admin/r/grid_workers/").status_code == 403


# --- medical staff --------------------------------------------------------------------------------------

def test_medical_staff_are_granted_one_by_one_and_revoked(office, as_admin):
    doctor = _citizen("doctor-1", 911, "陈医生", "13900000001", verified=True)
    city = as_admin("city")
    # Bad input: a bad phone is a clear error on the form, and nothing is stored.
    before = row_counts()
    refused = city.post("/admin/r/medical_staff/new", {"name": "陈医生", "phone": "1390000", "institution": "郑州市中心医院",
                                                      "position": "医师"}, allow_redirects=False)
    assert refused.status_code == 400 and "手机号" in page_error(refused)
    assert 'data-field="phone"' in refused.text and row_counts() == before
    made = city.post("/admin/r/medical_staff/new", {"name": "陈医生", "phone": "13900000001",
                                                   "institution": "郑州市中心医院", "position": "医师"},
                     allow_redirects=False)
    assert made.status_code == 302
    staff = MedicalStaff.get()
    assert staff.account_id == doctor.id and "medical" in doctor.role_names()
    assert auth.role_detail(doctor, "medical") == {"institution": "郑州市中心医院", "position": "医师"}
    listing = city.get("/admin/r/medical_staff/")
    assert "陈*" in listing.text and "139****0001" in listing.text and "13900000001" not in listing.text
    assert city.post(f"/admin/r/medical_staff/{staff.id}/do/revoke", allow_redirects=False).status_code == 302
    assert MedicalStaff.get_by_id(staff.id).status == "revoked" and "medical" not in doctor.role_names()
    assert city.post(f"/admin/r/medical_staff/{staff.id}/do/regrant", allow_redirects=False).status_code == 302
    assert "medical" in doctor.role_names()
    # A district admin has no such page.
    assert as_admin("jinshui").get("/admin/r/medical_staff/").status_code == 403


def _upload(client: AdminClient, content: bytes):
    return client.http.post(client.base_url + "/admin/medical-staff/import", data={"_xsrf": client.xsrf()},
                            files={"file": ("表4-1.xlsx", content, XLSX)}, timeout=20)


def test_the_4_1_list_grants_its_good_rows_and_reports_a_bad_phone(office, as_admin):
    """Bad input: a medical list with a bad phone: that row is reported (row, column, reason) and
    grants nothing; the good rows still count."""
    later = _citizen("doctor-2", 912, "林护士", "13900000003")  # not verified yet
    city = as_admin("city")
    content = files.workbook_bytes(("序号", "姓名", "联系电话", "单位名称", "职位"), [
        (1, "刘医生", 13900000002, "郑州大学第一附属医院", "主治医师"),
        (2, "王医生", "1390000000", "郑州市第七人民医院", "医师"),
        (3, "林护士", "139 0000 0003", "郑州市中心医院", "护士长"),
        (4, "", "13900000004", "郑州市中心医院", "护士"),
    ])
    page = _upload(city, content)
    assert page.status_code == 200
    assert re.search(r'data-figure="granted">2<', page.text) and re.search(r'data-figure="bad">2<', page.text)
    bad = re.findall(r'<td data-label="行号">(\d+)</td><td data-label="列">([^<]+)</td><td data-label="原因">([^<]+)</td>',
                     page.text)
    assert bad[0][:2] == ("3", "联系电话") and "手机号" in bad[0][2]
    assert bad[1] == ("5", "姓名", "请填写姓名")
    assert sorted(s.phone for s in MedicalStaff.select()) == ["13900000002", "13900000003"]
    # The nurse's permission reaches her account once her phone is verified.
    assert "medical" not in later.role_names()
    profile.bind_verified_phone(later, "13900000003")
    assert "medical" in later.role_names()
    assert auth.role_detail(later, "medical")["institution"] == "郑州市中心医院"
    # A file that is not an xlsx is refused whole, and stores nothing.
    before = row_counts()
    refused = _upload(city, b"name,phone\n")
    assert refused.status_code == 400 and "不是有效的 Excel" in page_error(refused)
    missing = _upload(city, files.workbook_bytes(("姓名", "单位名称"), [("张三", "某医院")]))
    assert missing.status_code == 400 and "缺少必需的列：联系电话、职位" in page_error(missing)
    assert row_counts() == before
    template = city.get("/admin/medical-staff/template.xlsx")
    assert template.status_code == 200 and template.headers["Content-Type"] == XLSX


def test_a_medical_list_declaring_10000_columns_or_too_many_rows_is_refused_whole(office, as_admin):
    """Bad input: a 表4-1 list whose sheet declares 10,000 columns, or more rows than the list's
    limit: refused from its dimension with the code and field, nothing granted or audited."""
    city = as_admin("city")
    good = files.workbook_bytes(("序号", "姓名", "联系电话", "单位名称", "职位"),
                                [(1, "刘医生", 13900000002, "郑州大学第一附属医院", "主治医师")])
    before = row_counts()
    for ref, code, message in (("A1:NTP2", "too_many_columns", "工作表有 10,000 列"),
                               ("A1:E2000001", "too_many_rows", "工作表有 2,000,000 行数据")):
        refused = _upload(city, files.with_dimension(good, ref))
        assert refused.status_code == 400 and message in page_error(refused), page_error(refused)
        assert f'data-code="{code}" data-field="file"' in refused.text
    assert row_counts() == before and MedicalStaff.select().count() == 0


# --- blank code batches ---------------------------------------------------------------------------------

def test_a_batch_of_0_or_of_100001_codes_is_refused(office, as_admin):
    city = as_admin("city")
    form = city.get("/admin/r/code_batches/new")
    assert form.status_code == 200 and "地铁" in form.text and "新郑市" in form.text
    before = row_counts()
    for size in ("0", "100001", "十个", ""):
        refused = city.post("/admin/r/code_batches/new", {"place_type": "metro", "size": size, "district": ""},
                            allow_redirects=False)
        assert refused.status_code == 400, size
        assert page_error(refused) in ("每批数量应为 1 至 100,000 的整数", "请填写数量（1 至 100,000 个）")
        assert 'data-field="size"' in refused.text
    assert row_counts() == before
    try:
        places.generate_batch("metro", 100_001)
    except Exception as error:  # noqa: BLE001 - the ApiError is what is checked
        assert (error.code, error.status, error.field) == ("invalid_batch_size", 400, "size")
    assert CodeBatch.select().count() == 0 and PlaceCode.select().where(PlaceCode.status == "blank").count() == 0
    # A district admin may only make batches for its own district.
    jinshui = as_admin("jinshui")
    before = row_counts()
    other = jinshui.post("/admin/r/code_batches/new", {"place_type": "metro", "size": "2", "district": "410103"},
                         allow_redirects=False)
    assert other.status_code == 400 and row_counts() == before


def test_a_batch_is_generated_printed_and_counts_its_activations(office, as_admin):
    city = as_admin("city")
    made = city.post("/admin/r/code_batches/new", {"place_type": "metro", "size": "3", "district": "410184"},
                     allow_redirects=False)
    assert made.status_code == 302
    batch = CodeBatch.get()
    assert (batch.size, batch.region.name, batch.created_by_admin.name) == (3, "新郑市", "city管理员")
    assert PlaceCode.select().where((PlaceCode.batch == batch) & (PlaceCode.status == "blank")).count() == 3
    detail = city.get(f"/admin/r/code_batches/{batch.id}")
    assert detail.status_code == 200 and "共 1 份" in detail.text
    assert 'name="purpose"' in detail.text and 'method="post"' in detail.text
    pdf = city.export(f"/admin/r/code_batches/{batch.id}/print.pdf", params={"part": "1"})
    assert pdf.status_code == 200 and pdf.headers["Content-Type"] == "application/pdf"
    parsed = PdfParser.PdfParser(buf=pdf.content)
    assert len(parsed.pages) == 3
    assert PdfParser.decode_text(parsed.info[b"Subject"]).endswith("用途：核查名单数据")
    png = city.export(f"/admin/r/code_batches/{batch.id}/print.zip", params={"part": "1"})
    archive = zipfile.ZipFile(io.BytesIO(png.content))
    assert archive.namelist() == ["导出说明.txt", *(f"P{batch.id}-00000{n}.png" for n in (1, 2, 3))]
    assert archive.comment.decode().startswith("导出人：c******　") and "用途：核查名单数据" in archive.comment.decode()
    assert city.post(f"/admin/r/code_batches/{batch.id}/print.pdf", {"purpose": "打印"},
                     params={"part": "2"}).status_code == 400
    assert OperationLog.select().where(OperationLog.action == "print_code_batch").count() == 2
    log = OperationLog.get(OperationLog.action == "print_code_batch")
    assert (json.loads(log.detail)["purpose"], json.loads(log.detail)["rows"]) == ("核查名单数据", 3)
    # One code is activated by its recipient: the list counts it.
    token = PlaceCode.select().where(PlaceCode.batch == batch).first().token
    recipient = _citizen("metro-admin", 921, "轨道站长", "13700000021")
    places.activate(token, {"name": "新郑机场站", "line": "城郊线", "contact_name": "轨道站长",
                            "contact_phone": "13700000021"}, recipient)
    listing = city.get("/admin/r/code_batches/")
    row = re.search(rf"<td data-label=\"批次号\">P{batch.id}</td>.*?</tr>", listing.text, re.S).group(0)
    assert '<td data-label="已激活">1</td>' in row and '<td data-label="数量">3</td>' in row
    # Another district's admin cannot see it.
    assert as_admin("erqi").get(f"/admin/r/code_batches/{batch.id}").status_code == 403
    assert AccountRole.select().count() >= 1


def test_a_print_file_needs_a_purpose_a_post_and_its_token(office, as_admin):
    """Bad input on a blank-code print: GET gives the purpose form (never the file), a POST with no
    purpose is the form again (code, field), a forged XSRF token is a 403; nothing is audited."""
    city = as_admin("city")
    assert city.post("/admin/r/code_batches/new", {"place_type": "metro", "size": "2", "district": "410184"},
                     allow_redirects=False).status_code == 302
    batch = CodeBatch.get()
    before = row_counts()
    path = f"/admin/r/code_batches/{batch.id}/print.zip"
    form = city.get(path, params={"part": "1"})
    assert form.status_code == 200 and form.headers["Content-Type"].startswith("text/html")
    assert 'name="part" value="1"' in form.text and 'name="purpose"' in form.text
    refused = city.post(path, {"part": "1", "purpose": ""})
    assert refused.status_code == 400 and "请填写导出用途" in page_error(refused)
    assert 'data-code="purpose_required" data-field="purpose"' in refused.text
    assert city.post(path, {"part": "1", "purpose": "印刷"}, xsrf="forged").status_code == 403
    assert row_counts() == before
    assert OperationLog.select().where(OperationLog.action == "print_code_batch").count() == 0


def test_a_listed_phone_registered_later_gets_the_permission_and_a_typed_one_does_not(office, sms):
    """The permission follows a verified phone only: registering by SMS code links it; a phone
    merely typed into a profile does not."""
    city = AdminUser.get(AdminUser.role == "city", AdminUser.name == "city管理员")
    medical_staff.grant(city, {"name": "周医生", "phone": "13900000009", "institution": "郑州市中医院",
                               "position": "医师"})
    impostor = _citizen("impostor", 931, "假医生", "13900000009")  # typed, never verified
    assert "medical" not in impostor.role_names()
    phone_auth.send_code("13900000009", "register", "127.0.0.1")
    identity = phone_auth.register("13900000009", sms.last_code("13900000009"), "Doctor@2026")
    assert "medical" in identity.account.role_names()
    assert MedicalStaff.get().account_id == identity.account_id

