"""The colour engine (D1-D4): evaluate the rules, keep each person's colour and its history.

Colours are computed per rule, set-wise (see `colour_rules.Rule.query`); the worst colour wins and
every matching reason is kept. Only people who are not green have a `HealthStatus` row, so a full
recompute costs what the lists hold, not what the population holds. When the rules cannot be read
the answer is "unknown", never green.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Callable, Iterable

import peewee

from models.colour import ColourHistory, HealthStatus
from models.corrections import ColourOverride
from models.risk_inputs import RiskBatch
from models.db import Prepared, db, insert_rows, is_mysql
from models.transactions import run_transaction
from models.fields import utcnow
from services.colours.colour_rules import SEVERITY, RuleDataError, check_fingerprint, load_rules
from services.common.timefmt import china_today, local_iso

log = logging.getLogger("healthcode.colour")

LABELS = {"green": "绿码", "yellow": "黄码", "orange": "橙码", "red": "红码", "unknown": "未知"}
UNKNOWN_REASON = "健康状态暂时无法核验，请稍后再试或联系工作人员"
CHUNK = 500
# A full recompute reads the stored colours READ_CHUNK rows per statement, and writes the
# changes WRITE_CHUNK people per transaction; MYSQL_WRITE_CHUNK on MySQL, where the locks are the
# rows' (not the whole database's, as on SQLite) and each commit is a log flush.
READ_CHUNK = 5000
WRITE_CHUNK = 500
MYSQL_WRITE_CHUNK = 2000


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
            reasons = [reason_text(h) for h in self.hits]
            guidance = [h["guidance"] for h in self.hits if h.get("guidance")]
        details = [{**h, "colour": display_colour(h["colour"], scheme)} for h in self.hits]
        return {"colour": colour, "colour_label": LABELS[colour], "reasons": reasons, "guidance": guidance,
                "details": details, "computed_at": local_iso(self.computed_at or utcnow())}


def reason_text(hit: dict) -> str:
    """A reason as the citizen reads it, naming the list and its date when it came from one:
    "密切接触者：密接名单（郑州市疾控中心 2026-12-03）"."""
    return f"{hit['reason']}：{hit['source']}" if hit.get("source") else hit["reason"]


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


def evaluate(subjects: list[str] | None = None, today: dt.date | None = None,
             pause: Callable[[], None] | None = None) -> dict[str, list[dict]]:
    """{subject: [hit, ...]} for everyone a rule matches today (or only for `subjects`).

    `pause` (a job's pacer) is called after each rule's query. Raises RuleDataError when the
    rules cannot be read.
    """
    today = today or china_today()
    rules = load_rules()
    hits: dict[str, list[dict]] = defaultdict(list)
    groups = [None] if subjects is None else list(_chunks(subjects))
    batches: set[int] = set()
    for rule in rules:
        for group in groups:
            for subject, latest, *batch in rule.query(today, group):
                latest = _as_date(latest)
                until = rule.last_day(latest)
                hit = {"rule": rule.code, "colour": rule.colour, "reason": rule.reason, "guidance": rule.guidance,
                       "since": latest.isoformat(), "until": until.isoformat() if until else None,
                       "_position": rule.position}
                if batch and batch[0] is not None:
                    hit["batch"] = int(batch[0])
                    batches.add(hit["batch"])
                hits[subject].append(hit)
            if pause is not None:
                pause()
    titles = _batch_titles(batches)
    for subject_hits in hits.values():
        subject_hits.sort(key=lambda h: (-SEVERITY[h["colour"]], h["_position"]))
        for h in subject_hits:
            del h["_position"]
            if "batch" in h and h["batch"] in titles:
                h["source"] = titles[h["batch"]]
    for group in groups:
        _apply_overrides(hits, group, today)
    return hits


OVERRIDE_RULE = "manual_override"


def _active_overrides(today: dt.date, *columns):
    return ColourOverride.select(*columns).where(ColourOverride.ended_at.is_null() & (ColourOverride.starts_on <= today)
                                                 & (ColourOverride.expires_on >= today))


def overridden(today: dt.date) -> dict[str, str]:
    """{subject: colour} of the people whose colour a manual override sets today, whatever the
    rules say."""
    return dict(_active_overrides(today, ColourOverride.subject, ColourOverride.colour).order_by(
        ColourOverride.id).tuples())


def _apply_overrides(hits: dict, subjects: list[str] | None, today: dt.date) -> None:
    """A manual override (services/colours/corrections.py: a reason, a second approver, an expiry)
    stands in place of what the rules say until it expires; the citizen sees it as one."""
    query = _active_overrides(today, ColourOverride.subject, ColourOverride.colour, ColourOverride.reason,
                              ColourOverride.starts_on, ColourOverride.expires_on).order_by(ColourOverride.id)
    if subjects is not None:
        query = query.where(ColourOverride.subject.in_(subjects))
    for subject, colour, reason, starts_on, expires_on in query.tuples():
        hits[subject] = [{"rule": OVERRIDE_RULE, "colour": colour, "reason": f"人工调整：{reason}",
                          "guidance": f"经两名工作人员审核的人工调整，有效期至 {_as_date(expires_on).isoformat()}",
                          "since": _as_date(starts_on).isoformat(), "until": _as_date(expires_on).isoformat(),
                          "override": True}]


def _batch_titles(ids: set[int]) -> dict[int, str]:
    """{batch id: its title} ("密接名单（郑州市疾控中心 2026-12-03）"): what a reason's source reads."""
    titles: dict[int, str] = {}
    for group in _chunks(sorted(ids)):
        titles.update(RiskBatch.select(RiskBatch.id, RiskBatch.title).where(RiskBatch.id.in_(group)).tuples())
    return titles


def _status_of(subject_hits: list[dict]) -> tuple[str, str, dt.date | None]:
    colour = subject_hits[0]["colour"]  # sorted worst first
    ends = [dt.date.fromisoformat(h["until"]) for h in subject_hits if h["until"]]
    return colour, json.dumps(subject_hits, ensure_ascii=False, sort_keys=True), min(ends) if ends else None


def recompute(subjects: Iterable[str] | None = None, why: str = "recompute", today: dt.date | None = None,
              pause: Callable[[], None] | None = None) -> dict:
    """Recompute everyone (subjects=None) or the given people; store changes and their history.

    When the rules cannot be read, the given people are marked "unknown" (to be recomputed on
    their next read) and RuleDataError is raised for a full recompute.

    Scans write beside this (on SQLite, one write lock for all), so the write lock is taken only
    for what changed: the rules and the stored colours are read first without it, then the
    people whose colour differs are written in short transactions of WRITE_CHUNK people
    (MYSQL_WRITE_CHUNK on MySQL), each reading those people's rows again under the lock (see
    `_write_changes`). A re-run that changes nothing takes no write lock at all. `pause` (a job's
    pacer, see jobs/pacing.py) is called between two chunks of the work.
    """
    pause = pause or _no_pause
    today = today or china_today()
    targets = None if subjects is None else sorted({s for s in subjects if s})
    if targets == []:
        return {"evaluated": 0, "changed": 0}
    try:
        hits = evaluate(targets, today, pause)
    except RuleDataError:
        if targets is None:
            raise
        log.error("colour rules unreadable; %d people marked unknown", len(targets))
        _mark_unknown(targets, why)
        return {"evaluated": len(targets), "changed": 0, "unknown": len(targets)}

    wanted = {subject: _status_of(subject_hits) for subject, subject_hits in hits.items()}
    pause()
    stored = _stored_states(targets, pause)
    due = sorted(s for s in stored.keys() | wanted.keys() if stored.get(s) != wanted.get(s))
    changed = 0
    for number, group in enumerate(_chunks(due, MYSQL_WRITE_CHUNK if is_mysql() else WRITE_CHUNK)):
        if number:
            pause()  # the write lock stays free meanwhile: SQLite's lock is not fair to waiting scans
        changed += run_transaction(functools.partial(_write_changes, group, wanted, why, utcnow()))
    return {"evaluated": len(stored.keys() | wanted.keys()), "changed": changed}


def _state_of(row: tuple) -> tuple[str, str, dt.date | None]:
    # (colour, reasons, valid_until) as `_status_of` gives it, from a stored row's columns.
    colour, reasons, valid_until = row
    return colour, reasons, _as_date(valid_until) if valid_until is not None else None


def _no_pause() -> None:
    pass


def _stored_states(targets: list[str] | None, pause: Callable[[], None] = _no_pause) -> dict[str, tuple]:
    """{subject: (colour, reasons, valid_until)} of the stored rows (everyone's, or the targets').

    Plain reads in short statements, outside any write transaction: everyone's rows are read in
    pages of READ_CHUNK along the subject index, so no statement keeps an old snapshot open long
    (on SQLite that would stop the WAL from being checkpointed while scans keep writing)."""
    columns = (HealthStatus.subject, HealthStatus.colour, HealthStatus.reasons, HealthStatus.valid_until)
    states: dict[str, tuple] = {}
    if targets is not None:
        for group in _chunks(targets):
            for subject, *row in HealthStatus.select(*columns).where(HealthStatus.subject.in_(group)).tuples():
                states[subject] = _state_of(row)
        return states
    after = None
    while True:
        query = HealthStatus.select(*columns).order_by(HealthStatus.subject).limit(READ_CHUNK)
        if after is not None:
            query = query.where(HealthStatus.subject > after)
        page = list(query.tuples())
        for subject, *row in page:
            states[subject] = _state_of(row)
        if len(page) < READ_CHUNK:
            return states
        after = page[-1][0]
        pause()


def _write_changes(group: list[str], wanted: dict[str, tuple], why: str, now: dt.datetime) -> int:
    """Make the stored colours of `group` what `wanted` says (absent: green); returns the colour
    changes recorded. Run as one short transaction (`run_transaction`: on SQLite BEGIN IMMEDIATE,
    models/db.py, takes the lock up-front; on MySQL a deadlock's victim runs again).

    The rows are read again under the write lock (SQLite's, or the rows' on MySQL): one changed
    since they were read (a read after expiry recomputed it meanwhile) is judged on what is
    stored now, so a change is never written, nor its history recorded, twice."""
    query = (HealthStatus.select(HealthStatus.subject, HealthStatus.colour, HealthStatus.reasons,
                                 HealthStatus.valid_until, HealthStatus.since)
             .where(HealthStatus.subject.in_(group)))
    if is_mysql():
        query = query.for_update()  # the rows as committed now, locked until the commit
    current = {subject: (colour, reasons, valid_until, since)  # tuples: no model per row
               for subject, colour, reasons, valid_until, since in query.tuples()}
    rows, history, stale = [], [], []
    for subject in group:
        old = current.get(subject)
        old_colour = old[0] if old else "green"
        colour, reasons, valid_until = wanted.get(subject, ("green", "[]", None))
        if old is None and subject not in wanted:
            continue  # green already
        if old is not None and subject in wanted and old[:3] == (colour, reasons, valid_until):
            continue  # already what it should be
        if subject in wanted:
            since = old[3] if old and old_colour == colour else now
            rows.append({"subject": subject, "colour": colour, "reasons": reasons, "since": since,
                         "valid_until": valid_until, "computed_at": now})
        if old:
            stale.append(subject)
        if colour != old_colour:
            history.append({"subject": subject, "from_colour": old_colour, "to_colour": colour,
                            "reasons": reasons, "why": why[:64], "changed_at": now})
    if stale:
        HealthStatus.delete().where(HealthStatus.subject.in_(stale)).execute()
    # Not insert_many: a full recompute writes a row per non-green person, which peewee would
    # spend most of the recompute building (models.db.insert_rows, bench/colour_recompute.py).
    insert_rows(HealthStatus, rows)
    insert_rows(ColourHistory, history)
    return len(history)


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


def verdict(subject: str | None, today: dt.date | None = None, stored=READ, rules=READ) -> Verdict:
    """A person's colour now: the stored answer while it holds, recomputed when it has expired.

    `stored` is the person's HealthStatus row (or None: no row), and `rules` the colour rules'
    fingerprint (colour_rules.rules_fingerprint), when the caller has just read them along with
    other things, as the scan does. Anything that stops an answer (rules unreadable, database
    error) gives "unknown".
    """
    today = today or china_today()
    if not subject:
        return Verdict("unknown")
    try:
        # A person with no row is green only if the rules can be read at all.
        load_rules() if rules is READ else check_fingerprint(rules)
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


HISTORY_LIMIT = 50  # the changes listMyColourHistory answers, newest first


def history(subject: str, limit: int = HISTORY_LIMIT) -> list[dict]:
    """The person's colour changes, newest first."""
    rows = (ColourHistory.select().where(ColourHistory.subject == subject)
            .order_by(ColourHistory.changed_at.desc(), ColourHistory.id.desc()).limit(limit))
    return [{"from": r.from_colour, "to": r.to_colour, "reasons": [reason_text(h) for h in json.loads(r.reasons)],
             "why": r.why, "changed_at": local_iso(r.changed_at)} for r in rows]
