"""`python -m jobs`: the one job runner of a deployment with several server processes (which then
run with RUN_JOBS=0). `python -m jobs run colour_recompute` runs one job once and exits.

It runs the jobs only while it holds the runner's lease (jobs/runner_lock.py): a second runner
started by mistake waits, running nothing, and takes over when the first stops. SIGTERM (a
service manager's stop) gives the lease back before exiting."""

from __future__ import annotations

import argparse
import signal

import tornado.ioloop

from config import Config
from jobs.scheduler import JOBS, start_runner, stop_runner
from services.operations import logsafe


def main(argv: list[str] | None = None) -> None:
    """Run the scheduler forever, or one job once."""
    parser = argparse.ArgumentParser(description="定时任务")
    parser.add_argument("command", nargs="?", default="serve", choices=("serve", "run"))
    parser.add_argument("job", nargs="?", choices=[job_id for job_id, _, _ in JOBS])
    args = parser.parse_args(argv)

    from server import setup

    config = Config.from_env()
    logsafe.install(config.log_level, config.log_format)
    setup(config)
    if args.command == "run":
        if not args.job:
            parser.error("run 需要任务名")
        print(dict((job_id, func) for job_id, func, _ in JOBS)[args.job]())
        return
    loop = tornado.ioloop.IOLoop.current()
    scheduler, lease = start_runner(config)
    loop.asyncio_loop.add_signal_handler(signal.SIGTERM, loop.stop)
    try:
        loop.start()
    except KeyboardInterrupt:
        pass
    stop_runner(scheduler, lease)


if __name__ == "__main__":
    main()
