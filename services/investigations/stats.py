"""Completion statistics (H5, 境外排查完成率): per district, 应排查 (records dispatched there),
已排查 (records in one of the source's investigated statuses) and 考核完成率, with the city's total
on top; narrowed by the list's date and category; and the same figures day by day.
A district with nothing to investigate has no rate ("—"), not a full 100% bar. Records not
dispatched yet (the city queue) are counted apart from the districts, for city admins.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import peewee
from peewee import fn

from models.investigations import TaskRecord
from models.regions import Region
from services.investigations import sources
from services.investigations.dispatch import city_of


NO_RATE = "—"


@dataclass(frozen=True)
class Line:
    name: str
    should: int
    done: int

    @property
    def rate(self) -> float | None:
        """The completion rate in percent; None when there is nothing to investigate."""
        return None if self.should == 0 else round(100.0 * self.done / self.should, 2)

    @property
    def rate_text(self) -> str:
        return NO_RATE if self.rate is None else f"{self.rate:.2f}%"


def _done_sum(source) -> peewee.Node:
    return fn.SUM(peewee.Case(None, [(TaskRecord.status.in_(tuple(source.workflow.done)), 1)], 0))


def _filtered(source, date_from: dt.date | None, date_to: dt.date | None, category: str | None):
    query = TaskRecord.select().where(TaskRecord.source == source.code)
    if date_from:
        query = query.where(TaskRecord.occurred_on >= date_from)
    if date_to:
        query = query.where(TaskRecord.occurred_on <= date_to)
    if category:
        query = query.where(TaskRecord.category == category)
    return query


def districts_for(admin) -> list[Region]:
    """The districts an admin's statistics list: every district of their city, or their own."""
    region = admin.region
    if region.level in ("province", "city"):
        city = city_of(region) or region
        return list(Region.select().where((Region.level == "district") & Region.path.startswith(city.path))
                    .order_by(Region.code))
    return [r for r in [*region.ancestors(), region] if r.level == "district"]


def completion(admin, source_code: str, *, date_from: dt.date | None = None, date_to: dt.date | None = None,
               category: str | None = None) -> dict:
    """{"total": Line, "districts": [Line...], "unassigned": Line | None, "by_date": [(date, Line)...]}."""
    source = sources.get(source_code)
    districts = districts_for(admin)
    base = _filtered(source, date_from, date_to, category)
    counts = {district_id: (int(should), int(done or 0)) for district_id, should, done in (
        base.select(TaskRecord.district, fn.COUNT(TaskRecord.id), _done_sum(source))
        .group_by(TaskRecord.district).tuples())}
    lines = [Line(d.name, *counts.get(d.id, (0, 0))) for d in districts]
    city_level = admin.region.level in ("province", "city")
    unassigned = Line("市级待分配", *counts.get(None, (0, 0))) if city_level else None
    everything = lines + ([unassigned] if unassigned else [])
    total = Line("合计", sum(x.should for x in everything), sum(x.done for x in everything))
    ids = [d.id for d in districts]
    by_date_query = base.select(TaskRecord.occurred_on, fn.COUNT(TaskRecord.id), _done_sum(source))
    if not city_level:
        by_date_query = by_date_query.where(TaskRecord.district.in_(ids))
    by_date = [(day, Line(str(day), int(should), int(done or 0))) for day, should, done in (
        by_date_query.group_by(TaskRecord.occurred_on).order_by(TaskRecord.occurred_on.desc()).limit(62).tuples())]
    if not city_level:
        total = Line("合计", sum(x.should for x in lines), sum(x.done for x in lines))
    return {"source": source, "total": total, "districts": lines, "unassigned": unassigned, "by_date": by_date}


def chart(lines: list[Line], width: int = 640, bar_height: int = 22, gap: int = 8, label_width: int = 110) -> dict:
    """Geometry of a horizontal bar chart of completion rates (drawn as SVG by the page); a line
    with nothing to investigate gets no bar, only "—"."""
    plot = width - label_width - 90
    bars = []
    for i, line in enumerate(lines):
        y = i * (bar_height + gap)
        rate = line.rate
        bars.append({"y": y, "text_y": y + bar_height * 0.7, "name": line.name,
                     "width": 0 if rate is None else round(plot * rate / 100, 1),
                     "label": f"{NO_RATE}（无任务）" if rate is None else f"{line.rate_text}（{line.done}/{line.should}）",
                     "colour": "#9aa5b1" if rate is None else "#2e7d32" if rate >= 90 else "#f9a825" if rate >= 60
                     else "#c62828"})
    return {"width": width, "height": max(1, len(lines)) * (bar_height + gap), "bars": bars, "x0": label_width,
            "plot": plot, "bar_height": bar_height}
