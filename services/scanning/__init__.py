"""A scan and the entry it leaves: the public scan flow, from what a code asks for to the verdict
and entry record (scans); the group commit that writes common scans' rows in shared
transactions (entry_writer); paper entry forms typed in by a compound's staff (entry_registration);
and the queries of the back office's entry lists (entry_records)."""
