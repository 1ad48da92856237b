"""coachsync: watch a coach's calendar, log every reschedule per client, run policies."""

__version__ = "0.1.0"
