"""The daily run: once per local day, each enabled plugin's coachsync_daily looks at each active client.

`coachsync run` starts it after the first pass of the day, `coachsync sync`
when it has not run that day. The day is marked in the same transaction as
what the plugins asked for, so a crash leaves the day to run again, and the
actions' keys (client and day, or `once_per`) keep a repeat from adding
anything.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime, tzinfo

from .attendance import SessionState, session_rows
from .config import Config
from .engagement import Status, engagement_at
from .model import Occurrence
from .policies import DailyArguments, PolicyResults, PolicyRunner
from .standing import current_period_start
from .store import Store
from .sync import Acted, write_policy_results

log = logging.getLogger(__name__)


def run_daily(
    store: Store,
    config: Config,
    runner: PolicyRunner,
    read_occurrences: Callable[[], Sequence[Occurrence]],
    zone: tzinfo,
    now: datetime,
) -> tuple[Acted, ...] | None:
    """Run the day's hooks unless they ran today already; returns what they recorded, or None if already run.

    `read_occurrences` reads the calendars' sessions, matched to today's clients; only a day that has
    not run yet reads them, so the passes after the first of the day cost one lookup.
    """
    today = now.astimezone(zone).date()
    if store.ledger.daily_ran(today):
        return None  # the common case, on every pass but the first of the day, takes no write lock
    with store.transaction():
        if store.ledger.daily_ran(today):  # another process ran it meanwhile
            return None
        results = PolicyResults()
        occurrences = read_occurrences()
        for client in config.clients:
            events = store.engagements.events(client.name)
            if engagement_at(events, now, zone).status is not Status.ACTIVE:
                continue  # a paused or ended engagement gets no daily look
            history = tuple(store.history.records_of(client.name))
            rows = session_rows(occurrences, history, client.name, datetime.min.replace(tzinfo=zone), now, now)
            held_keys = {(row.key, row.start) for row in rows if row.state is SessionState.HELD}
            mine = sorted((o for o in occurrences if o.client == client.name), key=lambda o: o.start)
            agreement = config.agreement_for(client.name)
            arguments = DailyArguments(
                agreement=agreement,
                history=history,
                sessions=tuple(o for o in mine if o.start > now and not o.cancelled),
                held=tuple(o for o in mine if (o.key, o.start) in held_keys),
                today=today,
                period_start=current_period_start(history, agreement, events, now, zone),
            )
            found = runner.daily(runner.client(client.name), arguments, now)
            results = PolicyResults(
                results.fees + found.fees, results.suggestions + found.suggestions, results.emails + found.emails
            )
        recorded = write_policy_results(store, results, now)
        store.ledger.mark_daily(today, now)
    for acted in recorded:
        log.info(
            "daily policy acted",
            extra={"plugin": acted.plugin, "emails": acted.emails, "suggestions": acted.suggestions},
        )
    return recorded
