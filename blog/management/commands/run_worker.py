"""Run a background worker: django-tasks-db's db_worker, plus recovery of crashed workers' tasks."""

import threading
from datetime import timedelta

from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import close_old_connections

from blog.tasks import requeue_stale_tasks


class Command(BaseCommand):
    help = (
        "Run a background worker that drains the task queue (image caching, re-rendering). "
        "Start as many as you like, on as many machines as share the database. Tasks left "
        "running by a worker that died are put back in the queue after --stale-after seconds."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--stale-after", type=float, default=900, help="Seconds after which a running task counts as lost."
        )
        parser.add_argument("--interval", type=float, default=1, help="Seconds to wait when the queue is empty.")
        parser.add_argument("--batch", action="store_true", help="Exit once the queue is empty.")
        parser.add_argument("--max-tasks", type=int, default=None, help="Exit after running this many tasks.")

    def handle(self, *args, **options):
        older_than = timedelta(seconds=options["stale_after"])
        stop = threading.Event()

        def requeue():
            requeued = requeue_stale_tasks(older_than=older_than)
            if requeued and options["verbosity"] >= 1:
                self.stderr.write(f"requeued {requeued} task(s) left running by a lost worker")

        def sweep():
            # Checked every so often, so that any live worker recovers the tasks of one that
            # was killed, not only the worker that restarts in its place.
            while not stop.wait(min(60.0, max(1.0, options["stale_after"] / 2))):
                requeue()
                close_old_connections()

        requeue()
        sweeper = threading.Thread(target=sweep, name="requeue-stale-tasks", daemon=True)
        sweeper.start()
        # No autoreloader: it would run the worker in a child process that outlives a kill of
        # this one, and a supervisor must see the process it started die.
        worker_options = {"interval": options["interval"], "verbosity": options["verbosity"], "reload": False}
        if options["batch"]:
            worker_options["batch"] = True
        if options["max_tasks"] is not None:
            worker_options["max_tasks"] = options["max_tasks"]
        try:
            call_command("db_worker", **worker_options)
        finally:
            stop.set()
