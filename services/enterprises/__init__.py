"""Enterprise return-to-work (enterprise): groups and their invitation codes, the daily report, a
member's colour, the staff-status lists computed in SQL, the e-mailed Excel export, member
removal and the daily not-reported list."""
