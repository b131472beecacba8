"""Runs one job the way an operator does (`python -m jobs run <id>`), on a fresh SQLite file."""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run_job_once(tmp_path, job_id: str) -> str:
    """Initialise a database under `tmp_path`, run the job `job_id` once from the command line,
    and answer what it printed (both commands must succeed)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DATABASE_URL")}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path}/jobs.db"
    init = subprocess.run([sys.executable, "server.py", "init-db"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)
    assert init.returncode == 0, init.stderr
    run = subprocess.run([sys.executable, "-m", "jobs", "run", job_id], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    return run.stdout
