"""Shared building blocks for the catalog vocabularies.

A category is described by *families*: a list of subjects (domain objects) crossed with a
list of aspects (actions / facets). Every (subject, aspect) pair becomes one tool unless the
subject skips that aspect. Tokens in square brackets (``[noun]``, ``[plural]``, ``[ctx]``, any
key of the subject dict) are substituted from the subject; ``{param}`` placeholders in the
``vp`` (verb phrase) intents name tool parameters and are filled by the dataset generator.
``{@}`` in a CRUD aspect stands for the subject's reference parameter.

Parameter dicts carry an internal ``kind`` naming the entity pool that supplies values
(see ``core.generate.entities``); it is stripped from the published JSON schema.
"""

from __future__ import annotations

from typing import Any


def p(
    name: str,
    type_: str,
    desc: str,
    kind: str | None = None,
    *,
    required: bool = True,
    enum: list[str] | None = None,
    items: str | None = None,
    minimum: int | float | None = None,
    maximum: int | float | None = None,
    default: Any = None,
) -> dict[str, Any]:
    """One parameter. ``type_`` is a JSON-schema type; an enum is a string with ``enum``."""
    return {
        "name": name,
        "type": type_,
        "description": desc,
        "kind": kind,
        "required": required,
        "enum": enum,
        "items": items,
        "minimum": minimum,
        "maximum": maximum,
        "default": default,
    }


def opt(param: dict[str, Any]) -> dict[str, Any]:
    """The same parameter, optional."""
    return {**param, "required": False}


def req(param: dict[str, Any]) -> dict[str, Any]:
    return {**param, "required": True}


# ---------------------------------------------------------------- frequently used params
CITY = p("city", "string", "City name, optionally with country, e.g. 'Oslo, Norway'.", "city")
DATE = p("date", "string", "Calendar date in ISO format YYYY-MM-DD.", "date")
DAYS = p("days", "integer", "Number of days ahead to cover (1-14).", "days", minimum=1, maximum=14)
LIMIT = p("limit", "integer", "Maximum number of items to return (1-50).", "limit", minimum=1, maximum=50)
QUERY = p("query", "string", "Free-text search terms.", "topic")
EMAIL = p("email", "string", "Email address of the person.", "email")
PERIOD = p(
    "period",
    "string",
    "Time window to cover.",
    enum=["day", "week", "month", "quarter", "year"],
)
UNITS = p("units", "string", "Unit system for the result.", required=False, enum=["metric", "imperial"])
LANG = p("language", "string", "ISO language code for text in the response, e.g. 'en'.", required=False)


# ---------------------------------------------------------------- CRUD aspects
def _ref(s: dict[str, Any]) -> list[dict[str, Any]]:
    return [s["ref"]]


def _create(s: dict[str, Any]) -> list[dict[str, Any]]:
    return [s["ref"], *[opt(f) for f in s.get("fields", [])]]


def _rename(s: dict[str, Any]) -> list[dict[str, Any]]:
    r = s["ref"]
    return [r, p("new_name", "string", f"The new name for the {s['noun']}.", r["kind"])]


def _list(s: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        opt(LIMIT),
        p(
            "sort_by",
            "string",
            "Sort order of the results.",
            required=False,
            enum=["newest", "oldest", "name", "recently_modified"],
        ),
    ]


def _search(s: dict[str, Any]) -> list[dict[str, Any]]:
    return [QUERY, opt(LIMIT)]


def _share(s: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        s["ref"],
        p("email", "string", "Email address of the person to share with.", "email"),
        p("permission", "string", "Access level granted.", required=False, enum=["view", "comment", "edit"]),
        p("notify", "boolean", "Send the person a notification email.", required=False, default=True),
    ]


def _export(s: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        s["ref"],
        p("format", "string", "File format of the export.", enum=s.get("formats", ["pdf", "csv", "json"])),
    ]


def _duplicate(s: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        s["ref"],
        opt(p("new_name", "string", "Name for the copy; defaults to 'Copy of ...'.", s["ref"]["kind"])),
    ]


CRUD: dict[str, dict[str, Any]] = {
    "create": {
        "key": "create",
        "id": "[key]_create",
        "name": "Create [Title]",
        "role": "create",
        "desc": [
            "Creates a new [noun] [ctx]. Only the [refdesc] is required; the other fields are optional.",
            "Adds a new [noun] [ctx] and returns it with its identifier.",
            "Makes a brand-new [noun] [ctx] from the given [refdesc] and optional details.",
        ],
        "vp": [
            'create a new [noun] called "{@}"',
            'add a [noun] named "{@}"',
            'set up a [noun] titled "{@}"',
        ],
        "params": _create,
        "returns": "The created [noun] including its ID.",
    },
    "get": {
        "key": "get",
        "id": "[key]_get",
        "name": "Get [Title]",
        "role": "lookup",
        "desc": [
            "Fetches the full details of one existing [noun] [ctx], looked up by its [refdesc].",
            "Returns everything stored about a single [noun] [ctx] (identified by [refdesc]).",
        ],
        "vp": [
            'show me the details of the [noun] "{@}"',
            'pull up the [noun] "{@}"',
            'open the [noun] "{@}"',
        ],
        "params": _ref,
        "returns": "The [noun] with all of its fields.",
    },
    "rename": {
        "key": "rename",
        "id": "[key]_rename",
        "name": "Rename [Title]",
        "role": "action",
        "desc": [
            "Renames an existing [noun] [ctx]; its contents are left unchanged.",
            "Changes the name of a [noun] [ctx] without touching anything else.",
        ],
        "vp": [
            'rename the [noun] "{@}" to "{new_name}"',
            'change the name of the [noun] "{@}" to "{new_name}"',
        ],
        "params": _rename,
        "returns": "The renamed [noun].",
    },
    "delete": {
        "key": "delete",
        "id": "[key]_delete",
        "name": "Delete [Title]",
        "role": "action",
        "desc": [
            "Permanently deletes a [noun] [ctx]. This cannot be undone; archive it instead to keep a recoverable copy.",
            "Removes a [noun] [ctx] for good (irreversible, unlike archiving).",
        ],
        "vp": [
            'permanently delete the [noun] "{@}"',
            'remove the [noun] "{@}" for good',
            'get rid of the [noun] "{@}" permanently',
        ],
        "params": _ref,
        "returns": "Confirmation that the [noun] was deleted.",
    },
    "archive": {
        "key": "archive",
        "id": "[key]_archive",
        "name": "Archive [Title]",
        "role": "action",
        "desc": [
            "Archives a [noun] [ctx]: it disappears from normal views but is kept and can be restored later. Nothing is deleted.",
            "Moves a [noun] [ctx] to the archive (reversible, unlike deletion).",
        ],
        "vp": [
            'archive the [noun] "{@}"',
            'move the [noun] "{@}" into the archive',
            'put the [noun] "{@}" in the archive',
        ],
        "params": _ref,
        "returns": "The archived [noun].",
    },
    "restore": {
        "key": "restore",
        "id": "[key]_restore",
        "name": "Restore [Title]",
        "role": "action",
        "desc": [
            "Restores a previously archived [noun] [ctx] back to the active list.",
            "Brings an archived [noun] [ctx] back out of the archive so it shows up again.",
        ],
        "vp": [
            'restore the archived [noun] "{@}"',
            'bring the [noun] "{@}" back from the archive',
            'unarchive the [noun] "{@}"',
        ],
        "params": _ref,
        "returns": "The restored [noun].",
    },
    "list": {
        "key": "list",
        "id": "[key]_list",
        "name": "List [Plural]",
        "role": "lookup",
        "desc": [
            "Lists the user's [plural] [ctx], newest first by default, with optional sorting and a result limit.",
            "Returns an overview of all [plural] [ctx] (names and last-modified dates), without full contents.",
        ],
        "vp": [
            "list my {limit} most recent [plural]",
            "show the latest {limit} [plural] I have",
            "give me my {limit} newest [plural]",
        ],
        "params": _list,
        "returns": "A list of [plural] with names and dates.",
    },
    "search": {
        "key": "search",
        "id": "[key]_search",
        "name": "Search [Plural]",
        "role": "search",
        "desc": [
            "Full-text search across the user's [plural] [ctx]; returns the [plural] whose content matches the query.",
            "Finds [plural] [ctx] that mention the given keywords, ranked by relevance.",
        ],
        "vp": [
            'search my [plural] for "{query}"',
            'find any [plural] that mention "{query}"',
            'look through my [plural] for "{query}"',
        ],
        "params": _search,
        "returns": "Matching [plural], best match first.",
    },
    "share": {
        "key": "share",
        "id": "[key]_share",
        "name": "Share [Title]",
        "role": "action",
        "desc": [
            "Shares a [noun] [ctx] with another person by email address, granting view, comment or edit access.",
            "Gives someone access to a [noun] [ctx]; they are optionally notified by email.",
        ],
        "vp": [
            'share the [noun] "{@}" with {email}',
            'give {email} access to the [noun] "{@}"',
            'let {email} see the [noun] "{@}"',
        ],
        "params": _share,
        "returns": "The updated sharing settings of the [noun].",
    },
    "export": {
        "key": "export",
        "id": "[key]_export",
        "name": "Export [Title]",
        "role": "action",
        "desc": [
            "Exports a [noun] [ctx] to a downloadable file in the chosen format.",
            "Converts a [noun] [ctx] into a file (for example PDF or CSV) and returns a download link.",
        ],
        "vp": [
            'export the [noun] "{@}" as {format}',
            'download the [noun] "{@}" in {format} format',
            'save the [noun] "{@}" to a {format} file',
        ],
        "params": _export,
        "returns": "A download link for the exported file.",
    },
    "duplicate": {
        "key": "duplicate",
        "id": "[key]_duplicate",
        "name": "Duplicate [Title]",
        "role": "action",
        "desc": [
            "Creates an exact copy of an existing [noun] [ctx]; the original is unchanged.",
            "Clones a [noun] [ctx] into a new one with the same contents.",
        ],
        "vp": ['make a copy of the [noun] "{@}"', 'duplicate the [noun] "{@}"', 'clone the [noun] "{@}"'],
        "params": _duplicate,
        "returns": "The new copy of the [noun].",
    },
}

ALL_CRUD = [
    "create",
    "get",
    "rename",
    "delete",
    "archive",
    "restore",
    "list",
    "search",
    "share",
    "export",
    "duplicate",
]
BASIC_CRUD = ["create", "get", "rename", "delete", "archive", "list", "search", "share"]


def crud_family(objects: list[dict[str, Any]]) -> dict[str, Any]:
    """A family crossing objects with the CRUD aspects each object lists under ``actions``."""
    return {"subjects": objects, "aspects": [CRUD[k] for k in ALL_CRUD], "crud": True}


def single(tool: dict[str, Any]) -> dict[str, Any]:
    """A hand-written standalone tool expressed as a one-subject family.

    ``tool`` holds: id, name, desc (list), vp (list), params (list), returns, role.
    """
    asp = {**tool, "key": tool["id"]}
    return {"subjects": [{"key": tool["id"], "noun": tool.get("noun", tool["id"])}], "aspects": [asp]}


def singles(tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [single(t) for t in tools]


def tool(
    id_: str,
    name: str,
    desc: list[str] | str,
    vp: list[str] | str,
    params: list[dict[str, Any]],
    returns: str,
    role: str = "action",
) -> dict[str, Any]:
    return {
        "id": id_,
        "name": name,
        "desc": [desc] if isinstance(desc, str) else desc,
        "vp": [vp] if isinstance(vp, str) else vp,
        "params": params,
        "returns": returns,
        "role": role,
    }
