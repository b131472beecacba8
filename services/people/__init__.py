"""A person's own data: checks and masking of resident ID numbers, other documents and phones, as
pure functions (identity); the real-name profile, answered masked (profile); family members, the
proxy identities a shared phone remembers and an adult member's consent (family); health
declarations and entry-to-province registrations (declarations); and the signed dynamic QR and
the revocable paper health code a citizen shows (health_codes)."""
