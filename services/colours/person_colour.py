"""What the officials' 个人健康码查询 page (admin/risk_pages.py) shows of one person: the masked
identity and home region, the current colour with each reason and its source, every fact the
rules read, the release notices, the overrides, the colour history, the corrections asked for and
the appeals. The view itself is logged by the caller's search (corrections.view_subject) before
this is read."""

from __future__ import annotations

from models.admin import AdminUser
from services.colours import appeals, colour, colour_reasons, corrections
from services.people import identity


def of(admin: AdminUser, subject: str) -> dict:
    """The page's record of the person `subject` (a blind index) as `admin` may see it."""
    person, number = corrections.subject_identity(subject)
    verdict = colour.verdict(subject)
    facts = corrections.facts_of(subject, admin)
    notices = corrections.notices_of(subject)
    # What a correction can be asked about: each fact, each notice, the person's override.
    targets = [f["target"] for f in facts] + [f"release_notice:{n.id}" for n in notices] + [f"override:{subject}"]
    return {
        "subject": subject,
        "name": identity.mask_name(person.name) if person else None,
        "id_number": identity.mask_id_number(number),
        "region": corrections.home_region(person, number),
        "registered": person is not None,
        "verdict": verdict,
        "reasons": colour_reasons.explain(subject, verdict.hits),
        "facts": facts, "notices": notices, "overrides": corrections.overrides_of(subject),
        "history": [{**change, "why_label": colour_reasons.why_label(change["why"] or "")}
                    for change in colour.history(subject)],
        "requests": corrections.requests_about(targets),
        "appeals": appeals.about(subject),
    }
