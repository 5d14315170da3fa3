"""Run a background worker: django-tasks-db's db_worker, a heartbeat, and recovery of dead workers' tasks."""

import os
import socket
import threading
import uuid
from datetime import timedelta

from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import DatabaseError, close_old_connections

from blog.tasks import beat, forget_worker, requeue_stale_tasks


class Command(BaseCommand):
    help = (
        "Run a background worker that drains the task queue (image caching, re-rendering). "
        "Start as many as you like, on as many machines as share the database. Each worker "
        "records a heartbeat; a task left running by a worker whose heartbeat is older than "
        "--stale-after seconds (a worker that died) is put back in the queue."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--stale-after",
            type=float,
            default=60,
            help="Seconds without a heartbeat after which a worker counts as dead and its running task as lost "
            "(tasks of workers without a heartbeat: seconds since the task started). Default 60.",
        )
        parser.add_argument(
            "--heartbeat",
            type=float,
            default=None,
            help="Seconds between heartbeats (default: a quarter of --stale-after, at most 15).",
        )
        parser.add_argument("--interval", type=float, default=1, help="Seconds to wait when the queue is empty.")
        parser.add_argument("--batch", action="store_true", help="Exit once the queue is empty.")
        parser.add_argument("--max-tasks", type=int, default=None, help="Exit after running this many tasks.")

    def handle(self, *args, **options):
        stale_after = timedelta(seconds=options["stale_after"])
        every = options["heartbeat"] or min(15.0, max(0.2, options["stale_after"] / 4))
        worker_id = f"{socket.gethostname()[:30]}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        stop = threading.Event()

        def requeue():
            requeued = requeue_stale_tasks(stale_after=stale_after)
            if requeued and options["verbosity"] >= 1:
                self.stderr.write(f"requeued {requeued} task(s) left running by a lost worker")

        def keep_beating():
            # A thread of its own, so a task that runs long (or holds the main thread in C code
            # that releases the GIL, as network reads do) never stops the beat.
            sweep_every = max(1.0, min(60.0, options["stale_after"] / 2))
            next_sweep = sweep_every
            waited = 0.0
            while not stop.wait(every):
                waited += every
                try:
                    beat(worker_id=worker_id)
                    if waited >= next_sweep:
                        # Any live worker recovers a dead one's tasks, not only the one restarted in its place.
                        next_sweep += sweep_every
                        requeue()
                except DatabaseError as exc:  # the database away for a moment: beat again next time
                    self.stderr.write(f"heartbeat: {exc}")
                finally:
                    close_old_connections()

        beat(worker_id=worker_id)
        requeue()
        beating = threading.Thread(target=keep_beating, name="worker-heartbeat", daemon=True)
        beating.start()
        # No autoreloader: it would run the worker in a child process that outlives a kill of
        # this one, and a supervisor must see the process it started die.
        worker_options = {
            "interval": options["interval"],
            "verbosity": options["verbosity"],
            "reload": False,
            "worker_id": worker_id,
        }
        if options["batch"]:
            worker_options["batch"] = True
        if options["max_tasks"] is not None:
            worker_options["max_tasks"] = options["max_tasks"]
        try:
            call_command("db_worker", **worker_options)
        finally:
            stop.set()
            beating.join(timeout=every + 5)
            forget_worker(worker_id=worker_id)
