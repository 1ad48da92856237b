"""What the tests share: one calendar builder, one CLI runner, one wait_for, and real servers on 127.0.0.1.

- `ical`: iCalendar text, folded octet-correctly (`vevent`, `session`, `vcalendar`)
- `scenario`: a coach's directory, config and database (`Coach`, `NOW`, `rows`)
- `cli`: coachsync's commands in-process at a given moment (`cli`, `invoke`)
- `wait`: `wait_for` a condition with a deadline
- `plugin_world`: coaches with plugins from tests/plugins/ in their plugins_dir
- `http_calendar`, `caldav_servers`, `smtp_server`, `ports`: real servers and ports chosen at run time

The `coach`, `app`, `open_app` and `server` fixtures are in tests/conftest.py.
"""
