"""The place admin's API (B4): create the place, see it with its codes and figures, hand it
over, unbind inspectors."""

from __future__ import annotations

from handlers.base import ApiHandler, operation
from handlers.schema import Int, List, Obj, Str, model, response_model
from services.fieldwork import place_admin
from services.venues.place_types import PLACE_TYPES

CREATE_PLACE = model("CreatePlaceRequest", {
    "region_code": Str("所在区域代码", max_len=20),
    "address": Str("详细地址", max_len=255),
    "place_type": Str("场所类型", choices=tuple(c for c, t in PLACE_TYPES.items() if t.category != "compound")),
    "name": Str("场所名称", max_len=128),
})
PLACE_STATS = response_model("PlaceStats", {"inspectors": Int("绑定检测员数"), "today": Int("今日登记"),
                                             "total": Int("累计登记")})
PLACE_INSPECTOR = response_model("PlaceInspector", {"account_id": Int("检测员账号"), "name": Str("姓名（脱敏）", nullable=True),
                                                    "bound_at": Str("绑定时间")})
MY_PLACE = response_model("MyPlace", {"id": Int("场所编号"), "name": Str("名称"), "type": Str("类型"),
                                      "type_label": Str("类型名称"),
                              "address": Str("地址", nullable=True), "declaration_code": Str("场所申报码（分享给检测员）"),
                              "code_url": Str("场所码内容"),
                              "quick_checkin_url": Str("体温正常快速打卡码内容（卡口不提供：null）", nullable=True),
                              "stats": Obj(PLACE_STATS, "场所统计"),
                              "inspectors": List(Obj(PLACE_INSPECTOR), "已绑定的检测员", max_items=None)})
HAND_OVER = model("HandOverPlaceRequest", {"account_id": Int("接任管理员的账号（须为本场所检测员）")})


class MyPlaceHandler(ApiHandler):
    @operation("createPlace", "创建公共场所（一个管理员只能创建一个场所）", body=CREATE_PLACE, response=MY_PLACE,
               status=201, errors=(409,))
    def post(self, body):
        return place_admin.place_summary(place_admin.create_place(self.current_account, body), self.config)

    @operation("getMyPlace", "我的场所：场所码、场所申报码和数据统计", response=MY_PLACE, errors=(404,))
    def get(self):
        return place_admin.place_summary(place_admin.my_place(self.current_account), self.config)


class HandOverHandler(ApiHandler):
    roles = ("place_admin",)

    @operation("handOverPlace", "更换管理员：移交给本场所的一名检测员", body=HAND_OVER, response=MY_PLACE, errors=(409,))
    def post(self, body):
        place = place_admin.hand_over(self.current_account, body["account_id"])
        return place_admin.place_summary(place, self.config)


class PlaceInspectorHandler(ApiHandler):
    roles = ("place_admin",)

    @operation("unbindInspector", "解绑检测员", response=MY_PLACE, errors=(404,))
    def delete(self, account_id):
        place_admin.unbind_inspector(self.current_account, int(account_id))
        return place_admin.place_summary(place_admin.my_place(self.current_account), self.config)


def routes(config) -> list:
    """The place admin routes."""
    return [
        (r"/api/v1/place-admin/place", MyPlaceHandler),
        (r"/api/v1/place-admin/place/hand-over", HandOverHandler),
        (r"/api/v1/place-admin/place/inspectors/(?P<account_id>\d+)", PlaceInspectorHandler),
    ]
