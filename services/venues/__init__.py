"""Places and their codes: places created, looked up, revoked and re-issued, and blank code batches
activated by a first scan (places); place types as data with their flows, forms and admission
policy (place_types); a place code's bare QR and printable poster (place_code_images); the
changing code a door screen shows (screen_codes); the short declaration codes that bind a place
or a grid (share_codes); live occupancy at counting places (occupancy); and the queries of the
back office's blank-code batch list (code_batches)."""
