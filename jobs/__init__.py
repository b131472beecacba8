"""APScheduler: the scheduler and one module per job."""
