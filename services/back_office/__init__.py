"""Back-office work on compounds and venue types: the compound an admin works on and its place
(compounds); residents with their bindings and isolation statuses (residents) and the queries of
the resident list (resident_lists); the venue-type roles, their scope and places (venue_admin)
and the queries of their lists (venue_lists); the scan statistics behind the statistics pages and
dashboards (statistics); and the inline SVG charts those pages draw (svg_charts)."""
