"""The colour engine (D1-D4): evaluate the rules, keep each person's colour and its history.

Colours are computed per rule, set-wise (see `colour_rules.Rule.query`); the worst colour wins and
every matching reason is kept. Only people who are not green have a `HealthStatus` row, so a full
recompute costs what the lists hold, not what the population holds. When the rules cannot be read
the answer is "unknown", never green.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Iterable

import peewee

from models.colour import ColourHistory, HealthStatus
from models.db import Prepared, db, insert_rows
from models.fields import utcnow
from services.colour_rules import SEVERITY, RuleDataError, load_rules
from services.timefmt import china_today, local_iso

log = logging.getLogger("healthcode.colour")

LABELS = {"green": "绿码", "yellow": "黄码", "orange": "橙码", "red": "红码", "unknown": "未知"}
UNKNOWN_REASON = "健康状态暂时无法核验，请稍后再试或联系工作人员"
CHUNK = 500


def display_colour(colour: str, scheme: int) -> str:
    """The colour as the configured scheme shows it: with 3 colours, orange is shown as yellow."""
    return "yellow" if scheme == 3 and colour == "orange" else colour


@dataclass
class Verdict:
    """A person's colour now, with every reason that made it."""

    colour: str  # green | yellow | orange | red | unknown
    hits: list = field(default_factory=list)
    computed_at: dt.datetime | None = None

    def as_dict(self, scheme: int = 4) -> dict:
        """The verdict as the API answers it, in the configured scheme."""
        colour = display_colour(self.colour, scheme)
        if self.colour == "unknown":
            reasons, guidance = [UNKNOWN_REASON], []
        else:
            reasons = [h["reason"] for h in self.hits]
            guidance = [h["guidance"] for h in self.hits if h.get("guidance")]
        details = [{**h, "colour": display_colour(h["colour"], scheme)} for h in self.hits]
        return {"colour": colour, "colour_label": LABELS[colour], "reasons": reasons, "guidance": guidance,
                "details": details, "computed_at": local_iso(self.computed_at or utcnow())}


def _as_date(value) -> dt.date:
    # MAX() over a date column comes back as text on SQLite and as a date on MySQL.
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def _chunks(items: list, size: int = CHUNK):
    for start in range(0, len(items), size):
        yield items[start:start + size]


def evaluate(subjects: list[str] | None = None, today: dt.date | None = None) -> dict[str, list[dict]]:
    """{subject: [hit, ...]} for everyone a rule matches today (or only for `subjects`).

    Raises RuleDataError when the rules cannot be read.
    """
    today = today or china_today()
    rules = load_rules()
    hits: dict[str, list[dict]] = defaultdict(list)
    groups = [None] if subjects is None else list(_chunks(subjects))
    for rule in rules:
        for group in groups:
            for subject, latest in rule.query(today, group):
                latest = _as_date(latest)
                until = rule.last_day(latest)
                hits[subject].append({"rule": rule.code, "colour": rule.colour, "reason": rule.reason,
                                      "guidance": rule.guidance,
                                      "since": latest.isoformat(), "until": until.isoformat() if until else None,
                                      "_position": rule.position})
    for subject_hits in hits.values():
        subject_hits.sort(key=lambda h: (-SEVERITY[h["colour"]], h["_position"]))
        for h in subject_hits:
            del h["_position"]
    return hits


def _status_of(subject_hits: list[dict]) -> tuple[str, str, dt.date | None]:
    colour = subject_hits[0]["colour"]  # sorted worst first
    ends = [dt.date.fromisoformat(h["until"]) for h in subject_hits if h["until"]]
    return colour, json.dumps(subject_hits, ensure_ascii=False, sort_keys=True), min(ends) if ends else None


def recompute(subjects: Iterable[str] | None = None, why: str = "recompute", today: dt.date | None = None) -> dict:
    """Recompute everyone (subjects=None) or the given people; store changes and their history.

    When the rules cannot be read, the given people are marked "unknown" (to be recomputed on
    their next read) and RuleDataError is raised for a full recompute.
    """
    today = today or china_today()
    targets = None if subjects is None else sorted({s for s in subjects if s})
    if targets == []:
        return {"evaluated": 0, "changed": 0}
    try:
        hits = evaluate(targets, today)
    except RuleDataError:
        if targets is None:
            raise
        log.error("colour rules unreadable; %d people marked unknown", len(targets))
        _mark_unknown(targets, why)
        return {"evaluated": len(targets), "changed": 0, "unknown": len(targets)}

    now = utcnow()
    with db.atomic():
        if targets is None:
            current = {row.subject: row for row in HealthStatus.select()}
        else:
            current = {}
            for group in _chunks(targets):
                current.update({row.subject: row for row in HealthStatus.select().where(HealthStatus.subject.in_(group))})
        rows, history, stale = [], [], []
        for subject in set(current) | set(hits):
            old = current.get(subject)
            old_colour = old.colour if old else "green"
            if subject in hits:
                colour, reasons, valid_until = _status_of(hits[subject])
                if old and (old.colour, old.reasons, old.valid_until) == (colour, reasons, valid_until):
                    continue
                since = old.since if old and old.colour == colour else now
                rows.append({"subject": subject, "colour": colour, "reasons": reasons, "since": since,
                             "valid_until": valid_until, "computed_at": now})
            else:
                colour, reasons = "green", "[]"
            if old:
                stale.append(subject)
            if colour != old_colour:
                history.append({"subject": subject, "from_colour": old_colour, "to_colour": colour,
                                "reasons": reasons, "why": why[:64], "changed_at": now})
        for group in _chunks(stale):
            HealthStatus.delete().where(HealthStatus.subject.in_(group)).execute()
        # The driver's executemany: a full recompute writes a row per non-green person, which
        # peewee's insert_many would spend most of the recompute building (bench/colour_recompute.py).
        for group in _chunks(rows, 5000):
            insert_rows(HealthStatus, group)
        for group in _chunks(history, 5000):
            insert_rows(ColourHistory, group)
    return {"evaluated": len(current.keys() | hits.keys()), "changed": len(history)}


def _mark_unknown(subjects: list[str], why: str) -> None:
    yesterday = china_today() - dt.timedelta(days=1)
    with db.atomic():
        for group in _chunks(subjects):
            HealthStatus.delete().where(HealthStatus.subject.in_(group)).execute()
            HealthStatus.insert_many([{"subject": s, "colour": "unknown", "reasons": "[]", "valid_until": yesterday,
                                       "computed_at": utcnow()} for s in group]).execute()


_STATUS = Prepared(lambda subject: HealthStatus.select().where(HealthStatus.subject == subject).limit(1),
                   "\x00subject")
READ = object()  # verdict's `stored` default: read the stored status


def verdict(subject: str | None, today: dt.date | None = None, stored=READ) -> Verdict:
    """A person's colour now: the stored answer while it holds, recomputed when it has expired.

    `stored` is the person's HealthStatus row (or None: no row) when the caller has just read
    it along with other things, as the scan does. Anything that stops an answer (rules
    unreadable, database error) gives "unknown".
    """
    today = today or china_today()
    if not subject:
        return Verdict("unknown")
    try:
        load_rules()  # a person with no row is green only if the rules can be read at all
        row = _STATUS.first(subject) if stored is READ else stored
        if row is not None and (row.colour == "unknown" or (row.valid_until and row.valid_until < today)):
            recompute([subject], why="read_after_expiry", today=today)
            row = HealthStatus.get_or_none(HealthStatus.subject == subject)
        if row is None:
            return Verdict("green", [], utcnow())
        return Verdict(row.colour, json.loads(row.reasons), row.computed_at)
    except (RuleDataError, peewee.PeeweeException, ValueError) as exc:
        log.error("colour unknown: %s", type(exc).__name__)
        return Verdict("unknown")


def history(subject: str, limit: int = 50) -> list[dict]:
    """The person's colour changes, newest first."""
    rows = (ColourHistory.select().where(ColourHistory.subject == subject)
            .order_by(ColourHistory.changed_at.desc(), ColourHistory.id.desc()).limit(limit))
    return [{"from": r.from_colour, "to": r.to_colour, "reasons": [h["reason"] for h in json.loads(r.reasons)],
             "why": r.why, "changed_at": local_iso(r.changed_at)} for r in rows]
