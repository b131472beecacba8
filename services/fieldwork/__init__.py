"""The field roles: place admins and inspectors, with their declaration codes, temperature checks
and counts (place_admin); grid admins and grid workers with door-to-door collection (grids) and
the queries of their back-office lists (grid_lists); who may issue release notices, granted by
the city (medical_staff); and the release-from-observation notices medical staff issue
(release_notices)."""
