"""The JSON Schema of the config, for an editor's completion and checks (`coachsync schema`).

It comes from the same pydantic models that validate the file, with each
installed plugin's settings model under `policies.<name>` and, all keys
optional, under `clients[i].policies.<name>`. The schema cannot run every
check coachsync makes (a file that exists, unique names, a known time zone):
`coachsync check` stays the judge; the schema catches typos while typing.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from coachsync.config import SOURCE_KEYS, Config

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"

# What each key means, in a line, for the editor's hover; the full story is docs/config.md.
_DESCRIPTIONS: dict[str, dict[str, str]] = {
    "Config": {
        "database": "The SQLite file that keeps the history; ~ and paths relative to this file work.",
        "timezone": "Your IANA time zone (Europe/Berlin): for floating times, all-day events and display.",
        "window": "How far around today recurring sessions are expanded.",
        "agreement": "Your practice's coaching agreement; each client may override any term.",
        "late_notice_hours": "The old name of agreement.notice_hours; move it there.",
        "debounce_seconds": "For ics_file: seconds to wait after the last write before reading the file.",
        "calendars": "The calendars to watch, at least one; each has a name and exactly one source.",
        "clients": "Your clients: a session is theirs by an attendee email, else by an alias or the name in its title.",
        "plugins_dir": "A directory of your own policy plugins (*.py files).",
        "policies": "The policies, each off until `enabled: true`.",
        "mail": "Where the policies' emails go: .eml files (outbox) or your SMTP server.",
        "fees": "Settings of the fee ledger's commands, such as the invoice exports.",
    },
    "CalendarConfig": {
        "name": "The calendar's name in messages and in the database; unique.",
        "ics_file": "A local .ics file; it must exist.",
        "ics_url": "A calendar published at an http://, https:// or webcal:// address; it is a secret.",
        "caldav": "A calendar on a CalDAV server.",
        "poll_interval": "Seconds between reads by `coachsync run`.",
        "timeout": "Seconds to wait for the server (ics_url, caldav).",
        "max_calendar_mb": "The most of this calendar that is read, in MB, counted after decompression.",
    },
    "CaldavConfig": {
        "url": "The server's root, your principal's URL, or the calendar's own URL.",
        "username": "The login name; leave it out for a server without login.",
        "password_command": "A command whose first line of output is the password, e.g. `pass show caldav/coach`.",
        "calendar": "The calendar's display name, when url is the root or principal.",
        "verify_tls": "Check the server's TLS certificate.",
        "ca_file": "A PEM file with the authority that signed the server's certificate.",
        "full_listing_hours": "How often the calendar is listed whole, in hours.",
    },
    "ClientConfig": {
        "name": "The client's name in history and clients; unique ignoring case, also matched in titles.",
        "emails": "The client's attendee addresses.",
        "aliases": "Words that name the client in an event title, matched as whole words.",
        "agreement": "This client's terms, each overriding the practice's agreement.",
        "policies": "This client's settings of any policy, merged key by key over policies.",
    },
    "AgreementConfig": {
        "notice_hours": "A change with less notice than this, in hours, is late.",
        "cadence": "How often sessions are meant to happen: weekly, fortnightly, monthly or 'every N days'.",
        "allowance": "How many reschedules are fine per period.",
        "started": "The day this agreement began (YYYY-MM-DD); earlier changes do not count.",
    },
    "AllowanceConfig": {
        "reschedules": "Reschedules that count for nothing, per period.",
        "per": "The period: '90 days' (any number), month, quarter or agreement.",
    },
    "WindowConfig": {
        "days_back": "Days back from today.",
        "days_ahead": "Days ahead of today.",
    },
    "MailConfig": {
        "mode": "outbox: write .eml files, send nothing; smtp: send through mail.smtp.",
        "from": "The address the emails are sent from.",
        "coach_email": "Your own address, for emails to you.",
        "outbox_dir": "Where outbox mode writes .eml files.",
        "templates_dir": "Your own email templates, used before the policies' own.",
        "smtp": "Your mail server, for mode: smtp.",
        "digest": "A weekly email to coach_email about the week, with the report attached.",
    },
    "DigestConfig": {
        "enabled": "coachsync run sends the weekly digest; needs mail.coach_email.",
        "weekday": "The day it is sent, in your time zone.",
        "time": "The time of day it is sent (HH:MM), in your time zone.",
    },
    "FeesConfig": {
        "export": "How `fees --csv --format xero|quickbooks` writes invoices.",
    },
    "FeeExportConfig": {
        "invoice_prefix": "Each invoice number is this prefix and the id of its first fee: CS-12.",
        "due_days": "Days from the export day to an invoice's due date.",
        "date_format": "How dates are written; tell the accounting tool the same when importing.",
        "account_code": "Xero: the sales account code the fee lines go to (e.g. 200); required for xero.",
        "tax_type": "Xero: the tax rate's name as Xero shows it (e.g. Tax Exempt); required for xero.",
    },
    "SmtpConfig": {
        "host": "The SMTP server's host name.",
        "port": "587 with starttls, 465 with ssl.",
        "username": "The login name; leave it out for no login.",
        "password_command": "A command whose first line of output is the password.",
        "starttls": "Upgrade the connection with STARTTLS (port 587).",
        "ssl": "Connect over TLS from the start (port 465).",
        "timeout": "Seconds to wait for the server.",
    },
}


def config_schema(policies: Mapping[str, type[BaseModel]]) -> dict[str, Any]:
    """The whole config's schema; `policies` maps each installed plugin's name to its settings model."""
    schema = Config.model_json_schema(by_alias=True, mode="validation")
    schema["properties"].pop("path")  # filled in from the file's location, never a YAML key
    schema["required"] = [key for key in schema.get("required", []) if key != "path"]
    schema["title"] = "coachsync config"
    definitions = schema.setdefault("$defs", {})
    _describe(schema, _DESCRIPTIONS["Config"])
    for name, keys in _DESCRIPTIONS.items():
        if name in definitions:
            _describe(definitions[name], keys)
    # Exactly one source per calendar, as the config says.
    definitions["CalendarConfig"]["oneOf"] = [{"required": [key]} for key in SOURCE_KEYS]

    practice: dict[str, Any] = {}
    per_client: dict[str, Any] = {}
    for name, model in sorted(policies.items()):
        section = model.model_json_schema(by_alias=True, mode="validation")
        definitions.update(section.pop("$defs", {}))
        section.pop("title", None)
        practice[name] = section
        # A client's section is merged over the practice's, so none of its keys is required on its own.
        own = copy.deepcopy(section)
        own.pop("required", None)
        per_client[name] = own
    schema["properties"]["policies"] = _sections(practice, _DESCRIPTIONS["Config"]["policies"])
    client_policies = definitions["ClientConfig"]["properties"]["policies"]
    definitions["ClientConfig"]["properties"]["policies"] = _sections(per_client, client_policies.get("description"))
    return {"$schema": SCHEMA_DIALECT, **schema}


def installed_schema(plugins_dir: Path | None = None) -> dict[str, Any]:
    """The schema with the plugins installed here (and those in `plugins_dir`)."""
    from coachsync.plugins import settings_models

    return config_schema(settings_models(plugins_dir))


def _describe(schema: dict[str, Any], descriptions: Mapping[str, str]) -> None:
    for key, text in descriptions.items():
        if key in schema.get("properties", {}):
            schema["properties"][key]["description"] = text
            schema["properties"][key].pop("title", None)


def _sections(sections: dict[str, Any], description: str | None) -> dict[str, Any]:
    """Only installed policies' names, each with its own keys: a misspelt name is an error, as in coachsync."""
    out: dict[str, Any] = {"type": "object", "properties": sections, "additionalProperties": False, "default": {}}
    if description:
        out["description"] = description
    return out
