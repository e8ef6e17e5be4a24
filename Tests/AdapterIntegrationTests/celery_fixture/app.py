"""The Celery app the console's Celery tests run real workers of (scripts/test.sh makes the venv).

Environment: CELERY_FIXTURE_BROKER (redis URL with the broker db), CELERY_FIXTURE_KEYPREFIX
(kombu global_keyprefix, unique per test), CELERY_FIXTURE_BACKEND (optional: a redis result
backend URL; results are then stored, under the same key prefix), CELERY_FIXTURE_MARKS (a directory the tasks write
marker files into: <mark>.started when a task starts, <mark>.done when it finishes).
"""
import os
import time

from celery import Celery

app = Celery("fixture", broker=os.environ["CELERY_FIXTURE_BROKER"])
options = {}
if os.environ.get("CELERY_FIXTURE_KEYPREFIX"):
    options["global_keyprefix"] = os.environ["CELERY_FIXTURE_KEYPREFIX"]
app.conf.update(
    broker_transport_options=options,
    worker_send_task_events=True,
    task_send_sent_event=True,
    worker_pool_restarts=True,
    worker_prefetch_multiplier=1,
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
    task_ignore_result=True,
)
if os.environ.get("CELERY_FIXTURE_BACKEND"):
    app.conf.update(
        result_backend=os.environ["CELERY_FIXTURE_BACKEND"],
        result_backend_transport_options={"global_keyprefix": os.environ.get("CELERY_FIXTURE_KEYPREFIX", "")},
        task_ignore_result=False,
    )
MARKS = os.environ.get("CELERY_FIXTURE_MARKS", "/tmp")


def _mark(name, what):
    if name:
        with open(os.path.join(MARKS, f"{name}.{what}"), "w") as f:
            f.write(str(os.getpid()))


@app.task(name="fixture.sleep")
def sleep(seconds, mark=None):
    _mark(mark, "started")
    time.sleep(seconds)
    _mark(mark, "done")
    return seconds


@app.task(name="fixture.add")
def add(a, b, mark=None):
    _mark(mark, "started")
    _mark(mark, "done")
    return a + b


@app.task(name="fixture.fail")
def fail(mark=None):
    _mark(mark, "started")
    raise ValueError("boom")
