"""Live occupancy (N8): the place admin sees and sets the count of people inside their place; a
citizen scans out of a counting place."""

from __future__ import annotations

from handlers.base import ApiHandler, operation
from handlers.schema import Bool, Int, Str, model, response_model
from services.fieldwork import place_admin
from services.venues import occupancy

OCCUPANCY = response_model("PlaceOccupancy", {
    "place_id": Int("场所编号"), "counting": Bool("是否统计在场人数"),
    "capacity": Int("容纳人数（不限：null）", nullable=True), "inside": Int("当前在场人数"),
    "available": Int("剩余可进入人数（不限：null）", nullable=True), "full": Bool("是否已满"),
})
SET_OCCUPANCY = model("SetPlaceOccupancyRequest", {
    "counting": Bool("是否统计在场人数（扫码进入计入，扫码离开减去；关闭后清零）"),
    "capacity": Int("容纳人数", minimum=1, maximum=occupancy.MAX_CAPACITY, required=False, nullable=True,
                    description="不小于1的整数；不限人数时不填或填 null"),
})
LEAVE = model("LeavePlaceRequest", {
    "code": Str("场所码（二维码中的 token）", max_len=64),
    "member_id": Int("为家庭成员离场时的成员编号", required=False, nullable=True),
})
LEFT = response_model("LeftPlace", {"left": Bool("已离场"), **OCCUPANCY.__specs__})


class PlaceOccupancyHandler(ApiHandler):
    # No role required, as getMyPlace: the account that administers a place (its creator, or whoever
    # activated its pre-printed code, as at a market) is found by place_admin.my_place, others 404.

    @operation("getPlaceOccupancy", "我的场所当前在场人数、容纳人数及是否已满", response=OCCUPANCY, errors=(404,))
    def get(self):
        return occupancy.view(place_admin.my_place(self.current_account))

    @operation("setPlaceOccupancy", "设置是否统计在场人数及容纳人数（景区、市场等限流场所）：满员时扫码提示"
               "“人数已满，请稍候”，不予进入", body=SET_OCCUPANCY, response=OCCUPANCY, errors=(404,))
    def put(self, body):
        place = place_admin.my_place(self.current_account)
        return occupancy.set_occupancy(self.current_account, place, body["counting"], body.get("capacity"))


class LeavePlaceHandler(ApiHandler):
    @operation("leavePlace", "扫码离开场所：在场人数减一（未在场或已离开返回 409 not_inside，不会重复减）", body=LEAVE,
               response=LEFT, errors=(403, 404, 409))
    def post(self, body):
        return occupancy.leave(self.current_account, body["code"], body.get("member_id"))


def routes(config) -> list:
    """The live occupancy routes."""
    return [
        (r"/api/v1/place-admin/place/occupancy", PlaceOccupancyHandler),
        (r"/api/v1/scans/leave", LeavePlaceHandler),
    ]
