"""Every route of the host API and what each method takes and answers,
keyed by the Falcon route template :func:`host.app.create_app` adds.

``tests/test_openapi.py`` fails when the app has a route or method this
table does not describe (or the other way round), and checks answers
against it; request bodies the API checks with :mod:`host.validation`
are described by the same field maps.
"""

from __future__ import annotations

from typing import Any

from host.api import resources
from host.api.idempotency import HEADER as IDEMPOTENCY_HEADER
from host.api.openapi.schemas import OPEN, TEXT, array, body, closed, ref
from host.services.events import MAX_LIMIT, MAX_WAIT_SECONDS, TYPES
from host.services.groups import STATUSES
from host.services.inbound import DELIVERY_STATUSES
from host.signing import HEADER as SIGNATURE_HEADER
from host.validation import EMAIL_PATTERN

ORG = "/api/0/organizations/{slug}"
#: An answer with no body (204, or 202 with nothing to say).
EMPTY = None
JSON = "application/json"

ERROR_MEANINGS = {
    400: "The request is not valid: see ``detail`` and, per field, ``errors``.",
    401: "No token, or one that is not valid (revoked, expired).",
    404: "No such object in this organization (another organization's is a 404 too).",
    409: "Conflicts with the state (a request with this Idempotency-Key is"
    " still running: retry after Retry-After).",
    410: "Kept no longer (a change-feed cursor older than the retention).",
    413: "The body is larger than ``[host] max_body_bytes``.",
    415: "The body is not ``application/json``.",
    422: "Well-formed, but not something the host can do (an Idempotency-Key"
    " reused for another request, a tracker refusing the input).",
    500: "A bug: the host logged it; the answer says no more.",
    502: "The tracker failed or did not answer; nothing was changed here.",
    503: "The database is busy or cannot be written: retry after Retry-After.",
}


def query_int(name: str, low: int, high: int, description: str) -> dict:
    return {
        "name": name,
        "in": "query",
        "description": description,
        "schema": {"type": "integer", "minimum": low, "maximum": high},
    }


def query_text(name: str, description: str, **schema: Any) -> dict:
    return {
        "name": name,
        "in": "query",
        "description": description,
        "schema": {"type": "string", **schema},
    }


def header(name: str, description: str, **schema: Any) -> dict:
    return {
        "name": name,
        "in": "header",
        "description": description,
        "schema": {"type": "string", **schema},
    }


PAGE = [
    query_int("limit", 0, 500, "At most this many (default 50)."),
    query_int("before", 0, 2**62, "Only ids below this one (the next page)."),
]
ACTOR = header(
    "X-Trackbridge-Actor",
    "The email of the member making the change (its source in events); one"
    " that is no member's makes it an anonymous user's.",
)
IDEMPOTENCY = header(
    IDEMPOTENCY_HEADER,
    "Send the request again with the same key and get the first answer"
    " back, never a second object.",
    pattern=r"^[\x21-\x7e]{1,255}$",
)


def op(
    op_id: str,
    summary: str,
    tag: str,
    answers: dict[int, dict | None],
    *,
    request: dict | None = None,
    parameters: list[dict] = (),
    errors: tuple[int, ...] = (),
    organization: bool = True,
    idempotent: bool = False,
    content: str = JSON,
) -> dict:
    """One operation; the errors every organization route can answer (400,
    401, 404, 503), a body's (400, 413, 415) and an idempotent POST's (409,
    422) are added here, once."""
    codes = {500, *errors}
    parameters = list(parameters)
    if organization:
        # 400: a query parameter the operation does not take, too.
        codes |= {400, 401, 404, 503}
    if request is not None:
        codes |= {400, 413, 415}
    if any(p["in"] == "query" for p in parameters):
        codes.add(400)
    if idempotent:
        codes |= {409, 422}
        parameters.append(IDEMPOTENCY)
    responses: dict[str, dict] = {}
    for status, schema in answers.items():
        answer: dict[str, Any] = {"description": _meaning(status)}
        if schema is not None:
            answer["content"] = {content: {"schema": schema}}
        responses[str(status)] = answer
    for status in sorted(codes - set(answers)):
        responses[str(status)] = {
            "description": ERROR_MEANINGS[status],
            "content": {JSON: {"schema": ref("Error")}},
        }
    operation: dict[str, Any] = {
        "operationId": op_id,
        "summary": summary,
        "tags": [tag],
        "responses": responses,
    }
    if parameters:
        operation["parameters"] = parameters
    if request is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {JSON: {"schema": request}},
        }
    if not organization:
        operation["security"] = []
    return operation


def _meaning(status: int) -> str:
    return {
        200: "OK",
        201: "Created",
        202: "Accepted: a job does the rest",
        204: "Done; no body",
    }.get(status, ERROR_MEANINGS.get(status, "See the summary"))


GROUP_BODY = body(resources.GROUP_FIELDS)
COMMENT_BODY = body(resources.COMMENT_FIELDS)

#: Route template (as the app adds it) → method → operation.
ROUTES: dict[str, dict[str, dict]] = {
    "/healthz": {
        "get": op(
            "health",
            "Whether the database can be read and written (within a second).",
            "host",
            {200: ref("Health"), 503: ref("Health")},
            organization=False,
        )
    },
    "/metrics": {
        "get": op(
            "metrics",
            "Counts and gauges in Prometheus' text format (no organization's data).",
            "host",
            {200: {"type": "string"}},
            organization=False,
            content="text/plain",
        )
    },
    "/api/0/openapi.json": {
        "get": op(
            "openapi",
            "This contract.",
            "host",
            {200: {"type": "object"}},
            organization=False,
        )
    },
    "/internal/replicate": {
        "post": op(
            "replicate",
            "An install a control node made, sent to the region that keeps its"
            " organization (signed with the routing secret).",
            "internal",
            {200: {"type": "object"}},
            request={"type": "object"},
            parameters=[header(SIGNATURE_HEADER, "The control node's signature.")],
            errors=(400, 401, 404, 413, 503),
            organization=False,
        )
    },
    "/extensions/{provider_slug}/{path:path}": {
        "post": op(
            "receiveTrackerWebhook",
            "Where trackers deliver webhooks: stored with its job before the"
            " answer, applied by the job (a control node answers 202 when it"
            " kept or forwarded the delivery).",
            "trackers",
            {200: ref("Received"), 202: ref("Received")},
            request={},
            # 409: a provider's own refusal (Jira Cloud: a Connect token
            # made for another request, as Atlassian's apps answer).
            errors=(400, 401, 404, 409, 413, 503),
            organization=False,
        )
    },
    ORG: {
        "get": op(
            "getOrganization",
            "The token's organization.",
            "organization",
            {200: ref("Organization")},
        )
    },
    f"{ORG}/members": {
        "get": op(
            "listMembers", "Its members.", "organization", {200: array(ref("Member"))}
        ),
        "post": op(
            "addMember",
            "Add a member (200 with the one there if the email is a member).",
            "organization",
            {200: ref("Member"), 201: ref("Member")},
            request=body(resources.MEMBER_FIELDS, patterns={"email": EMAIL_PATTERN}),
        ),
    },
    f"{ORG}/tokens": {
        "get": op(
            "listTokens",
            "Its API tokens (never their secret).",
            "organization",
            {200: array(ref("Token"))},
        )
    },
    f"{ORG}/tokens/{{token_id:id}}": {
        "delete": op(
            "revokeToken",
            "Revoke a token (from the next request on, in every process).",
            "organization",
            {204: EMPTY},
        )
    },
    f"{ORG}/groups": {
        "get": op(
            "listGroups",
            "Its groups, oldest first.",
            "groups",
            {200: array(ref("Group"))},
            parameters=[
                query_text(
                    "status", "Only groups with this status.", enum=list(STATUSES)
                ),
                query_int("limit", 0, 1000, "At most this many (default 100)."),
                query_int("offset", 0, 2**31, "Skip this many."),
                query_text(
                    "q",
                    "Only groups whose title holds this text, in any case.",
                ),
            ],
        ),
        "post": op(
            "createGroup",
            "Create a group (ticket rules may open tracker issues for it).",
            "groups",
            {201: ref("GroupDetail")},
            request=GROUP_BODY,
            idempotent=True,
        ),
    },
    f"{ORG}/groups/{{group_id:id}}": {
        "get": op(
            "getGroup",
            "A group and its linked issues.",
            "groups",
            {200: ref("GroupDetail")},
        ),
        "put": op(
            "updateGroup",
            "Change status or assignee (synced to every linked tracker).",
            "groups",
            {200: ref("GroupDetail")},
            request=body(resources.GROUP_UPDATE_FIELDS),
            parameters=[ACTOR],
        ),
        "delete": op("deleteGroup", "Delete a group.", "groups", {204: EMPTY}),
    },
    f"{ORG}/groups/{{group_id:id}}/activity": {
        "get": op(
            "groupActivity",
            "What happened to a group, oldest first.",
            "groups",
            {200: array(ref("Activity"))},
        )
    },
    f"{ORG}/groups/{{group_id:id}}/comments": {
        "get": op(
            "listComments",
            "A group's comments.",
            "groups",
            {200: array(ref("Comment"))},
        ),
        "post": op(
            "addComment",
            "Comment on a group (synced to linked trackers).",
            "groups",
            {201: ref("Comment")},
            request=COMMENT_BODY,
            parameters=[ACTOR],
            idempotent=True,
        ),
    },
    f"{ORG}/groups/{{group_id:id}}/comments/{{comment_id:id}}": {
        "put": op(
            "editComment",
            "Edit a comment.",
            "groups",
            {200: ref("Comment")},
            request=COMMENT_BODY,
            parameters=[ACTOR],
        )
    },
    f"{ORG}/groups/{{group_id:id}}/links": {
        "post": op(
            "linkIssue",
            "Link an existing tracker issue by its key.",
            "links",
            {201: ref("ExternalIssue")},
            request=body(resources.LINK_FIELDS),
            errors=(502,),
            idempotent=True,
        )
    },
    f"{ORG}/groups/{{group_id:id}}/links/{{external_issue_id:id}}": {
        "delete": op("unlinkIssue", "Unlink a tracker issue.", "links", {204: EMPTY})
    },
    f"{ORG}/groups/{{group_id:id}}/integrations/{{integration_id:id}}/create": {
        "get": op(
            "issueCreateForm",
            "The tracker's create form; the values chosen so far (project,"
            " issue type) go in the query and shape the rest.",
            "links",
            {200: ref("Form")},
            parameters=[
                {
                    "name": "values",
                    "in": "query",
                    "style": "form",
                    "explode": True,
                    "description": "Any form field's value by its name.",
                    "schema": {"type": "object", "additionalProperties": TEXT},
                }
            ],
            errors=(502,),
        ),
        "post": op(
            "createIssue",
            "Create a tracker issue from the form's values and link it.",
            "links",
            {201: ref("ExternalIssue")},
            request=OPEN,
            errors=(502,),
            idempotent=True,
        ),
    },
    f"{ORG}/integrations": {
        "get": op(
            "listIntegrations",
            "Its installed integrations.",
            "integrations",
            {200: array(ref("Integration"))},
        )
    },
    f"{ORG}/integrations/{{integration_id:id}}": {
        "get": op(
            "getIntegration",
            "One integration.",
            "integrations",
            {200: ref("Integration")},
        ),
        "put": op(
            "updateIntegrationConfig",
            "Change its settings (the keys the settings form names).",
            "integrations",
            {200: ref("Integration")},
            request=OPEN,
            errors=(502,),
        ),
        "delete": op(
            "removeIntegration",
            "Remove it from this organization.",
            "integrations",
            {204: EMPTY},
        ),
    },
    f"{ORG}/integrations/{{integration_id:id}}/config": {
        "get": op(
            "settingsForm",
            "The settings form, with the statuses of mapped projects and of"
            " each ``project`` asked for.",
            "integrations",
            {200: ref("SettingsForm")},
            parameters=[
                {
                    "name": "project",
                    "in": "query",
                    "style": "form",
                    "explode": True,
                    "description": "A tracker project whose statuses to list.",
                    "schema": array(TEXT),
                }
            ],
            errors=(502,),
        ),
        "put": op(
            "saveSettings",
            "Save the settings form.",
            "integrations",
            {200: ref("SettingsForm")},
            request=OPEN,
            errors=(502,),
        ),
    },
    f"{ORG}/integrations/{{integration_id:id}}/search": {
        "get": op(
            "searchChoices",
            "Choices for a searched form field (users, sprints, epics).",
            "integrations",
            {200: array(ref("Choice"))},
            parameters=[
                {
                    **query_text("field", "The field's ``search`` value.", minLength=1),
                    "required": True,
                },
                {
                    **query_text("query", "What the user typed.", pattern=r"\S"),
                    "required": True,
                },
                query_text("project", "The project chosen, where it matters."),
            ],
            errors=(502,),
        )
    },
    f"{ORG}/integrations/{{integration_id:id}}/rotate-webhook-secret": {
        "post": op(
            "rotateWebhookSecret",
            "A new webhook secret; the old webhook URL fails from now on.",
            "integrations",
            {200: ref("RotatedWebhookSecret")},
            errors=(400, 502),
        )
    },
    f"{ORG}/deliveries": {
        "get": op(
            "listDeliveries",
            "Tracker webhook deliveries and their outcome, newest first.",
            "deliveries",
            {200: array(ref("Delivery"))},
            parameters=[
                *PAGE,
                query_text(
                    "status",
                    "Only deliveries with this outcome.",
                    enum=list(DELIVERY_STATUSES),
                ),
            ],
        )
    },
    f"{ORG}/deliveries/{{delivery_id:id}}/reprocess": {
        "post": op(
            "reprocessDelivery",
            "Apply a delivery again (idempotent).",
            "deliveries",
            {202: ref("Delivery")},
        )
    },
    f"{ORG}/events": {
        "get": op(
            "listEvents",
            "The change feed, in order, from the cursor ``after``.",
            "events",
            {200: ref("EventPage")},
            parameters=[
                query_text(
                    "after",
                    "The last answer's ``next`` (none: from the oldest kept).",
                    pattern="^[A-Za-z0-9_-]{1,64}$",
                ),
                query_int("limit", 1, MAX_LIMIT, "At most this many (default 100)."),
                query_text(
                    "types",
                    f"Comma-separated event types, of: {', '.join(TYPES)}.",
                ),
                query_int(
                    "wait", 0, MAX_WAIT_SECONDS, "Seconds to wait for one if none."
                ),
            ],
            errors=(410,),
        )
    },
    f"{ORG}/hooks": {
        "get": op(
            "listHooks",
            "Its webhook subscriptions.",
            "hooks",
            {200: array(ref("Hook"))},
        ),
        "post": op(
            "createHook",
            "Subscribe a URL to the change feed; the answer has its secret,"
            " shown this once.",
            "hooks",
            {201: ref("HookWithSecret")},
            request={**ref("HookInput"), "required": ["url"]},
        ),
    },
    f"{ORG}/hooks/{{hook_id:id}}": {
        "get": op("getHook", "One hook.", "hooks", {200: ref("Hook")}),
        "put": op(
            "updateHook",
            "Change url, events or active (turning a disabled hook on sends"
            " from where it stopped).",
            "hooks",
            {200: ref("Hook")},
            request=ref("HookInput"),
        ),
        "delete": op("deleteHook", "Delete a hook.", "hooks", {204: EMPTY}),
    },
    f"{ORG}/hooks/{{hook_id:id}}/rotate-secret": {
        "post": op(
            "rotateHookSecret",
            "A new signing secret, shown this once.",
            "hooks",
            {200: ref("Secret")},
        )
    },
    f"{ORG}/hooks/{{hook_id:id}}/deliveries": {
        "get": op(
            "listHookAttempts",
            "Every attempt to deliver to the hook, newest first.",
            "hooks",
            {200: array(ref("HookAttempt"))},
            parameters=PAGE,
        )
    },
    f"{ORG}/hooks/{{hook_id:id}}/deliveries/{{delivery_id:id}}/redeliver": {
        "post": op(
            "redeliver",
            "Send that attempt's event once more (410: the feed keeps it no longer).",
            "hooks",
            {202: closed({"queued": {"const": True}})},
            errors=(410,),
        )
    },
    f"{ORG}/rules": {
        "get": op("listRules", "Its ticket rules.", "rules", {200: array(ref("Rule"))}),
        "post": op(
            "createRule",
            "A rule: open a tracker issue for each new group that matches"
            " (its fields checked with the tracker's create form).",
            "rules",
            {201: ref("Rule")},
            request={
                **ref("RuleInput"),
                "required": ["integration_id", "when"],
            },
            errors=(502,),
        ),
    },
    f"{ORG}/rules/{{rule_id:id}}": {
        "get": op("getRule", "One rule.", "rules", {200: ref("Rule")}),
        "put": op(
            "updateRule",
            "Change any of its keys (checked again).",
            "rules",
            {200: ref("Rule")},
            request=ref("RuleInput"),
            errors=(502,),
        ),
        "delete": op("deleteRule", "Delete a rule.", "rules", {204: EMPTY}),
    },
    f"{ORG}/jobs/dead": {
        "get": op(
            "listDeadJobs",
            "Its dead-lettered jobs, newest first.",
            "jobs",
            {200: array(ref("Job"))},
            parameters=PAGE,
        )
    },
    f"{ORG}/jobs/{{job_id:id}}/retry": {
        "post": op(
            "retryJob",
            "Queue a dead job again (409: it is not dead).",
            "jobs",
            {202: ref("Job")},
            errors=(409,),
        )
    },
    f"{ORG}/setup": {
        "post": op(
            "startSetup",
            "Start a provider's setup pipeline.",
            "setup",
            {201: ref("Pipeline")},
            request=body(resources.SETUP_START_FIELDS),
        )
    },
    f"{ORG}/setup/{{pipeline_id}}": {
        "get": op(
            "getSetup", "The pipeline's current step.", "setup", {200: ref("Pipeline")}
        ),
        "post": op(
            "submitSetup",
            "Submit the current step's form.",
            "setup",
            {200: ref("Pipeline")},
            request=OPEN,
            errors=(502,),
        ),
    },
}

#: Routes that are not the API: HTML pages for people (their forms are
#: the JSON API's, described above) and pages providers add.
PAGES = (
    "/extensions/{provider_slug}/setup",
    "/settings/{slug}/integrations/{integration_id:id}",
    "/console/{slug}",
    *(
        f"/console/{{slug}}/integrations/{{integration_id:id}}/{action}"
        for action in ("settings", "reauthenticate", "webhook-url", "remove")
    ),
    "/console/{slug}/groups",
    "/console/{slug}/groups/{group_id:id}",
    "/console/{slug}/groups/{group_id:id}/create",
    "/console/{slug}/deliveries",
    "/console/{slug}/jobs",
    "/console/{slug}/tokens",
    "/console/{slug}/hooks",
    "/console/{slug}/integrations/{integration_id:id}/rotate-webhook-secret",
)
