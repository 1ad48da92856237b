from coachsync.api import hookimpl


@hookimpl
def coachsync_on_change(record):
    raise RuntimeError("boom")
