"""Running the enabled policies over recorded changes, and turning what they return into ledger rows.

- `runner`: calls each plugin's hook through pluggy, one plugin at a time, so a failure stays its own;
- `views`: the read-only history and sessions the hooks see, worked out only when a plugin names them;
- `checks`: checks each returned action and makes the row that records it.

Nothing here writes the database: `sync` writes what the results say.
"""

from __future__ import annotations

from .checks import InvalidAction, action_rows, idempotency_key, message_id
from .runner import DailyArguments, PolicyResults, PolicyRunner
from .views import PolicyViews

__all__ = [
    "DailyArguments",
    "InvalidAction",
    "PolicyResults",
    "PolicyRunner",
    "PolicyViews",
    "action_rows",
    "idempotency_key",
    "message_id",
]
