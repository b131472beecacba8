"""The compound the back office works on (切换小区) and its place: the compounds within an admin's
region, the session's switch to one, and the compound's active place (its code, its paper forms)."""

from __future__ import annotations

from models.admin import AdminSession, AdminUser
from models.places import Place
from models.regions import Region
from services.accounts import admin_auth


def in_scope(admin: AdminUser):
    """The compounds within the admin's region, by code: the choices of 切换小区."""
    return (Region.select().where((Region.level == "compound") & Region.path.startswith(admin.region.path))
            .order_by(Region.code))


def switch(admin: AdminUser, session: AdminSession, choice: str) -> Region | None:
    """Make `choice` (a compound's id; "" for none) the session's compound: a 403 for one outside
    the admin's region or for anything that is not a compound. Returns the compound, or None."""
    if choice == "":
        compound = None
    else:
        # Anything but an id (a forged form) names no compound: the same 403.
        number = int(choice) if choice.isdigit() and len(choice) <= 18 else 0
        compound = Region.get_or_none((Region.id == number) & (Region.level == "compound"))
        admin_auth.require_scope(admin, compound)
    AdminSession.update(compound=compound).where(AdminSession.id == session.id).execute()
    return compound


def active_place(compound: Region) -> Place | None:
    """The compound's place in service (the one its code and its paper registrations belong to)."""
    return Place.get_or_none((Place.region == compound) & (Place.status == "active"))
