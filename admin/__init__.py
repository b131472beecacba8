"""The low-code back office: the registry and the `Resource` declaration with its columns,
searches, filters and forms (site.py), the start-up checks with their ids (checks.py), sign-in
and one generic handler set for every resource (handlers.py), the resources per area
(resources/), the pages that are not lists (dashboards, imports, statistics, risk data, rules:
*_pages.py), the side menu (menu.py), templates/ and static/."""
