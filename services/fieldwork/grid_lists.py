"""The queries of the field roles' back-office lists: grids with their regions (网格组织审核) and
the workers of a grid admin's own grid (网格员授权), with the figures above each list."""

from __future__ import annotations

from models.accounts import Account
from models.admin import AdminUser
from models.fieldwork import Grid, GridMembership
from models.regions import Region


def grids():
    """Every grid with its region."""
    return Grid.select(Grid, Region).join(Region)


def grid_figures(query) -> list[tuple[str, int]]:
    """网格组织 and 待审核 of the grids `query` selects."""
    return [("网格组织", query.count()), ("待审核", query.where(Grid.approved == False).count())]  # noqa: E712


def members_text(grid: Grid) -> str:
    """网格员（已授权/全部）: how many of the grid's workers are authorised, of all of them."""
    return f"{grid.memberships.where(GridMembership.status == 'approved').count()}/{grid.memberships.count()}"


def memberships():
    """Every grid membership with its grid and worker's account."""
    return GridMembership.select(GridMembership, Grid, Account).join(Grid).switch(GridMembership).join(Account)


def of_office(admin: AdminUser, query):
    """`query` limited to the workers of the grid this 网格员管理平台 account manages."""
    return query.where(Grid.office_admin == admin)


def member_figures(query) -> list[tuple[str, int]]:
    """网格员 and 已授权 of the memberships `query` selects."""
    return [("网格员", query.count()), ("已授权", query.where(GridMembership.status == "approved").count())]
