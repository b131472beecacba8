"""Grid admins and grid workers (E2, E3)."""

from __future__ import annotations

from handlers.base import ApiHandler, operation
from miniprogram_api import fields
from handlers.schema import Bool, Int, List, Obj, Str, model, response_model
from miniprogram_api.health import DECLARATION_VIEW
from miniprogram_api.inspector import DONE, STATS
from services.fieldwork import grids
from services.people import declarations, identity

CREATE_GRID = model("CreateGridRequest", {"region_code": Str("所在区域代码", max_len=20),
                                           "name": Str("网格名称", max_len=64)})
GRID_STATS = response_model("GridStats", {"members": Int("成员数"), "approved_members": Int("已授权成员数"),
                                           "declarations": Int("采集数"), "declarations_today": Int("今日采集数")})
GRID_MEMBER = response_model("GridMember", {"account_id": Int("网格员账号"), "name": Str("姓名（脱敏）", nullable=True),
                                            "status": Str("审核状态"), "bound_at": Str("绑定时间")})
GRID = response_model("Grid", {"id": Int("网格编号"), "name": Str("网格名称"), "region": Str("所在区域"),
                       "declaration_code": Str("网格申报码（分享给网格员）"), "approved": Bool("后台是否已审核"),
                       "stats": Obj(GRID_STATS, "统计"), "members": List(Obj(GRID_MEMBER), "成员及审核状态", max_items=None)})
BIND_GRID = model("BindGridRequest", {"declaration_code": Str("网格申报码", max_len=32)})
MY_GRID = response_model("MyGridBinding", {
    "grid_id": Int("网格编号"), "name": Str("网格名称"), "region": Str("所在区域"), "status": Str("审核状态"),
    "authorised": Bool("是否已授权"), "is_current": Bool("是否为当前网格"), "bound_at": Str("绑定时间")})
MY_GRIDS = response_model("MyGrids", {"items": List(Obj(MY_GRID), "绑定的网格（当前网格在前）及授权状态", max_items=None)})
PERSON = model("CollectedPerson", {
    "name": Str("姓名", max_len=64),
    "id_type": Str("证件类型", choices=tuple(identity.ID_TYPES), required=False),
    "id_number": Str("证件号码", max_len=32),
    "phone": fields.phone("手机号码", required=False, nullable=True),
    "address": Str("现住地址", max_len=255, required=False, nullable=True),
})
COLLECT = model("CollectInfoRequest", {
    "method": Str("采集方式：manual 手动录入 / scan 扫健康码", choices=("manual", "scan")),
    "payload": Str("扫描到的健康码内容（scan 时）", max_len=2048, required=False, nullable=True),
    "person": Obj(PERSON, "被采集人（manual 时）", required=False, nullable=True),
    "grid_id": Int("网格（不填为当前网格）", required=False, nullable=True),
    "health_status": Str("健康状况", choices=tuple(declarations.HEALTH_STATUSES)),
    "contact_with_patient": Bool("近14天是否接触过确诊或疑似病例"),
    "temperature": fields.temperature("体温（℃）", required=False, nullable=True),
    "residence": Str("现住地址", max_len=255, required=False, nullable=True),
    "remark": Str("上门核查备注", max_len=255, required=False, nullable=True),
})
COLLECTED = response_model("CollectInfoResult", {
    "collection_id": Int("采集编号"), "person_id": Int("人员编号"), "name": Str("姓名（脱敏）"),
    "id_number": Str("证件号码（脱敏）"), "colour": Str("颜色"), "colour_label": Str("颜色名称"),
    "authorised": Bool("是否已授权"), "latest_declaration": Obj(DECLARATION_VIEW, "最近一次申报", nullable=True),
    "declarations": List(Obj(DECLARATION_VIEW), "全部申报（仅授权网格员，最近 50 条）", max_items=50, required=False)})
DECLARATIONS = response_model("PersonDeclarations", {"items": List(Obj(DECLARATION_VIEW), "申报记录，最新的在前（最近 200 条）",
                                                                   max_items=200)})
KEY_PERSON = response_model("GridKeyPerson", {
    "person_id": Int("人员编号"), "name": Str("姓名（脱敏）"), "id_number": Str("证件号码（脱敏）"),
    "phone": Str("手机号（脱敏）", nullable=True), "colour": Str("颜色"), "colour_label": Str("颜色名称", nullable=True),
    "isolation": Str("隔离状态", nullable=True), "address": Str("住址", nullable=True)})
KEY_PERSONS = response_model("GridKeyPersons", {"items": List(Obj(KEY_PERSON), "重点人员", max_items=None)})


class MyGridHandler(ApiHandler):
    @operation("createGrid", "创建网格组织（一个管理员一个，创建后不可删除）", body=CREATE_GRID, response=GRID, status=201,
               errors=(409,))
    def post(self, body):
        return grids.grid_summary(grids.create_grid(self.current_account, body))

    @operation("getMyGrid", "我的网格：申报码、成员及审核状态、统计", response=GRID, errors=(404,))
    def get(self):
        return grids.grid_summary(grids.my_grid(self.current_account))


class ApproveWorkerHandler(ApiHandler):
    roles = ("grid_admin",)

    @operation("approveGridWorker", "审核通过网格员", response=GRID, errors=(404,))
    def post(self, account_id):
        grids.approve_worker(self.current_account, int(account_id))
        return grids.grid_summary(grids.my_grid(self.current_account))


class MembershipsHandler(ApiHandler):
    @operation("bindGrid", "网格员通过网格申报码绑定网格", body=BIND_GRID, response=MY_GRIDS, status=201, errors=(404,))
    def post(self, body):
        grids.bind_grid(self.current_account, body["declaration_code"])
        return {"items": grids.my_grids(self.current_account)}

    @operation("listMyGrids", "我绑定的网格", response=MY_GRIDS)
    def get(self):
        return {"items": grids.my_grids(self.current_account)}


class MembershipHandler(ApiHandler):
    roles = ("grid_worker",)

    @operation("unbindGrid", "解绑网格", response=DONE, errors=(403,))
    def delete(self, grid_id):
        grids.unbind_grid(self.current_account, int(grid_id))
        return {"ok": True}


class CurrentGridHandler(ApiHandler):
    roles = ("grid_worker",)

    @operation("setCurrentGrid", "设为当前网格", response=DONE, errors=(403,))
    def put(self, grid_id):
        grids.set_current(self.current_account, int(grid_id))
        return {"ok": True}


class CollectHandler(ApiHandler):
    roles = ("grid_worker",)

    @operation("collectInfo", "信息采集：手动录入或扫健康码，提交后可继续采集", body=COLLECT, response=COLLECTED,
               status=201, errors=(403,))
    def post(self, body):
        return grids.collect(self.current_account, body, self.config)


class PersonDeclarationsHandler(ApiHandler):
    roles = ("grid_worker",)

    @operation("listPersonDeclarations", "人员全部申报记录（仅授权网格员）", response=DECLARATIONS, errors=(403, 404))
    def get(self, person_id):
        return {"items": grids.person_declarations(self.current_account, int(person_id))}


class KeyPersonsHandler(ApiHandler):
    roles = ("grid_worker",)

    @operation("listGridKeyPersons", "本网格重点人员：红码、橙码或隔离中（仅授权网格员）", response=KEY_PERSONS, errors=(403,))
    def get(self):
        return {"items": grids.key_persons(self.current_account)}


class GridWorkerStatsHandler(ApiHandler):
    roles = ("grid_worker",)

    @operation("getGridWorkerStats", "我的采集次数：今日和累计", response=STATS)
    def get(self):
        return grids.worker_stats(self.current_account)


def routes(config) -> list:
    """The grid routes."""
    return [
        (r"/api/v1/grid-admin/grid", MyGridHandler),
        (r"/api/v1/grid-admin/grid/members/(?P<account_id>\d+)/approve", ApproveWorkerHandler),
        (r"/api/v1/grid/memberships", MembershipsHandler),
        (r"/api/v1/grid/memberships/(?P<grid_id>\d+)", MembershipHandler),
        (r"/api/v1/grid/memberships/(?P<grid_id>\d+)/current", CurrentGridHandler),
        (r"/api/v1/grid/collections", CollectHandler),
        (r"/api/v1/grid/persons/(?P<person_id>\d+)/declarations", PersonDeclarationsHandler),
        (r"/api/v1/grid/key-persons", KeyPersonsHandler),
        (r"/api/v1/grid/stats", GridWorkerStatsHandler),
    ]
