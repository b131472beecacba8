"""What is kept of officials' work with people's data: the operation log of who did what to whom
(audit); the citizen's access log read from it (access_log); and the stated purpose, audit line
and watermark of every file that leaves the platform (exports)."""
