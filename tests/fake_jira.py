"""A fake Jira Server / Data Center: a real HTTP server on loopback.

It speaks the parts of Jira that installing trackbridge touches: the OAuth
1.0a endpoints (form-encoded answers, ``oauth_problem=`` errors), the
authorize page, ``serverInfo`` in 9.x or 10.x mode, ``mypermissions``,
``myself``, both webhook resources, and what reading webhooks needs:
``status`` (the default workflow's statuses), ``user`` (from ``users``) and
``project`` (from ``projects``). Every OAuth request's RSA-SHA1 signature is
checked with oauthlib against the consumer's registered public
key, and a nonce is accepted once only, as Jira does.

Tests change its behaviour through attributes (``version``, ``admin``,
``failures``, ``delays``) and read what it saw in ``requests`` and
``webhooks``.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qsl, urlencode, urlsplit

from oauthlib.common import Request as OAuthRequest
from oauthlib.oauth1.rfc5849 import signature as oauth_signature

from tests import fake_jira_create, jira_spec
from tests.servers import LoopbackFake

OAUTH = "/plugins/servlet/oauth"


def _status(status_id: str, name: str, category: str) -> dict:
    return {"id": status_id, "name": name, "statusCategory": {"key": category}}


#: Jira's default workflow statuses (ids as in the shared real payloads).
STATUSES = (
    _status("1", "Open", "new"),
    _status("3", "In Progress", "indeterminate"),
    _status("4", "Reopened", "new"),
    _status("5", "Resolved", "done"),
    _status("6", "Closed", "done"),
    _status("10000", "To Do", "new"),
    _status("10001", "Done", "done"),
)
TRANSITIONS = (
    {"id": "11", "name": "Start Progress", "to": "3", "fields": {}},
    {"id": "21", "name": "Reopen", "to": "4", "fields": {}},
    {"id": "31", "name": "Resolve", "to": "5", "fields": {}},
)


@dataclass
class Seen:
    method: str
    path: str
    query: dict
    headers: dict
    body: bytes
    auth: str | None  # "oauth:<consumer key>", "bearer:<user>" or None

    def json(self):
        return json.loads(self.body)


@dataclass
class FakeJiraState:
    version: str = "9.12.2"
    admin: bool = True
    #: consumer key -> PEM public key registered in the Application Link
    consumers: dict[str, str] = field(default_factory=dict)
    #: personal access token -> user name
    personal_tokens: dict[str, str] = field(default_factory=dict)
    #: path -> (status, body, content type[, headers]) answered instead
    failures: dict[str, tuple] = field(default_factory=dict)
    #: path (or "*": any other path) -> seconds to wait before answering
    delays: dict[str, float] = field(default_factory=dict)
    #: The webhooks Jira would have sent, oldest first (bodies): every change
    #: made through the API or the helpers adds one; nothing sends them.
    outbox: list[bytes] = field(default_factory=list)
    #: path -> seconds to wait after doing what was asked, before answering
    #: (an answer that is lost: the change was made)
    slow_answers: dict[str, float] = field(default_factory=dict)
    user: str = "admin"
    #: When set, every request token is approved at once with this verifier
    #: (as if the user clicked Allow and copied the code Jira showed).
    auto_verifier: str | None = None
    #: user key -> {"name", "key", "displayName"[, "emailAddress"]}
    users: dict[str, dict] = field(default_factory=dict)
    statuses: list[dict] = field(default_factory=lambda: list(STATUSES))
    #: project key -> {"id", "key", "name", "statuses": [status ids],
    #: "issue_types": {id: {"id", "name", "fields": [create metadata]}}}
    #: (``fake_jira_create.add_project`` fills one in).
    projects: dict[str, dict] = field(default_factory=dict)
    #: Jira before 8.4: only the legacy ``issue/createmeta`` answers.
    legacy_createmeta: bool = False
    createmeta_page_size: int = 50
    #: project key -> [{"id", "name"}]
    versions: dict[str, list] = field(default_factory=dict)
    #: JQL field name (``cf[10100]``) -> [{"value", "label"}] to suggest
    suggestions: dict[str, list] = field(default_factory=dict)
    #: issue key -> {"id", "key", "fields": {...}, "comments": {id: body}}
    issues: dict[str, dict] = field(default_factory=dict)
    #: Transitions open from any other status: {"id", "name", "to", "fields"}
    #: (``fields``: {field id: {"name", "required"}}, as Jira expands them).
    transitions: list[dict] = field(default_factory=lambda: list(TRANSITIONS))
    requests: list[Seen] = field(default_factory=list)
    #: What the 10.3 REST spec says is wrong with requests received.
    spec_violations: list[str] = field(default_factory=list)
    webhooks: dict[int, dict] = field(default_factory=dict)
    request_tokens: dict[str, dict] = field(default_factory=dict)
    access_tokens: dict[str, str] = field(default_factory=dict)
    nonces: set[str] = field(default_factory=set)


class FakeJira(LoopbackFake):
    """Start with ``with FakeJira() as jira:``; ``jira.url`` is its base URL."""

    def __init__(self) -> None:
        self.state = FakeJiraState()
        self.lock = threading.Lock()
        super().__init__(_handler(self))

    def __getattr__(self, name):
        return getattr(self.state, name)

    def __setattr__(self, name, value):
        if name in FakeJiraState.__dataclass_fields__:
            setattr(self.state, name, value)
        else:
            super().__setattr__(name, value)

    def seen(self, path: str, method: str | None = None) -> list[Seen]:
        return [
            r
            for r in self.state.requests
            if r.path == path and (method is None or r.method == method)
        ]

    def approve(self, request_token: str) -> str:
        """What the user's "Allow" click does: returns the verifier."""
        with self.lock:
            token = self.state.request_tokens[request_token]
            token["verifier"] = secrets.token_urlsafe(8)
            return token["verifier"]


def _handler(jira: FakeJira):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_jira = jira

        def log_message(self, *args):  # keep test output quiet
            pass

        def do_GET(self):
            self._dispatch()

        def do_POST(self):
            self._dispatch()

        def do_DELETE(self):
            self._dispatch()

        def do_PUT(self):
            self._dispatch()

        # ---- plumbing ----

        def _dispatch(self):
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            self.query = dict(parse_qsl(parts.query))
            self.body = body
            self.oauth = {}
            path = parts.path
            delay = jira.state.delays.get(path, jira.state.delays.get("*"))
            if delay:
                time.sleep(delay)
            auth = self._authenticate(path)
            self.auth = auth
            jira.state.spec_violations.extend(
                jira_spec.violations(self.command, path, self.query, body)
            )
            jira.state.requests.append(
                Seen(
                    self.command,
                    path,
                    self.query,
                    dict(self.headers),
                    body,
                    auth if isinstance(auth, str) else None,
                )
            )
            if path in jira.state.failures:
                status, text, content_type, *headers = jira.state.failures[path]
                return self._send(status, text.encode(), content_type, *headers)
            if isinstance(auth, tuple):  # an OAuth problem
                return self._send(*auth)
            route = ROUTES.get((self.command, path))
            if route is None:
                for (method, prefix), handler in PREFIX_ROUTES.items():
                    if method == self.command and path.startswith(prefix):
                        return handler(self, auth, path[len(prefix) :])
                return self._json(404, {"errorMessages": ["Not found"]})
            return route(self, auth)

        def _send(self, status, body: bytes, content_type: str, headers=None) -> None:
            slow = jira.state.slow_answers.get(urlsplit(self.path).path)
            if slow:
                time.sleep(slow)
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _json(self, status: int, data) -> None:
            self._send(status, json.dumps(data).encode(), "application/json")

        def _form(self, status: int, data: dict) -> None:
            self._send(status, urlencode(data).encode(), "text/plain")

        # ---- authentication ----

        def _authenticate(self, path: str):
            """``"oauth:<key>"``/``"bearer:<user>"``, None, or an error answer."""
            header = self.headers.get("Authorization", "")
            if header.startswith("Bearer "):
                user = jira.state.personal_tokens.get(header[7:])
                return f"bearer:{user}" if user else None
            if not header.startswith("OAuth "):
                return None
            params = dict(
                oauth_signature.collect_parameters(
                    headers={"Authorization": header}, exclude_oauth_signature=False
                )
            )
            problem = self._oauth_problem(params, header)
            if problem:
                return (
                    401,
                    urlencode({"oauth_problem": problem}).encode(),
                    "text/plain",
                )
            return f"oauth:{params['oauth_consumer_key']}"

        def _oauth_problem(self, params: dict, header: str) -> str | None:
            if params.get("oauth_signature_method") != "RSA-SHA1":
                return "signature_method_rejected"
            public_key = jira.state.consumers.get(params.get("oauth_consumer_key"))
            if public_key is None:
                return "consumer_key_unknown"
            if abs(time.time() - int(params.get("oauth_timestamp", 0))) > 300:
                return "timestamp_refused"
            host, port = self.server.server_address[:2]
            request = OAuthRequest(
                f"http://{host}:{port}{self.path}",
                self.command,
                self.body,
                {"Authorization": header},
            )
            request.params = [
                (k, v)
                for k, v in oauth_signature.collect_parameters(
                    uri_query=urlsplit(self.path).query,
                    headers={"Authorization": header},
                    exclude_oauth_signature=True,
                )
            ]
            request.signature = params.get("oauth_signature", "")
            try:
                valid = oauth_signature.verify_rsa_sha1(request, public_key)
            except ValueError:  # binascii.Error included: not even base64
                valid = False
            if not valid:
                return "signature_invalid"
            with jira.lock:
                if params["oauth_nonce"] in jira.state.nonces:
                    return "nonce_used"
                jira.state.nonces.add(params["oauth_nonce"])
            self.oauth = params
            token = params.get("oauth_token")
            is_api_call = not self.path.startswith(OAUTH)
            if token and is_api_call and token not in jira.state.access_tokens:
                return "token_rejected"
            return None

    return Handler


# ---- OAuth dance ----


def request_token(h, auth):
    if auth is None:
        return h._form(401, {"oauth_problem": "parameter_absent"})
    token = secrets.token_urlsafe(12)
    jira = h.server_jira
    jira.state.request_tokens[token] = {
        "secret": secrets.token_urlsafe(12),
        "callback": h.oauth.get("oauth_callback", "oob"),
        "verifier": jira.state.auto_verifier,
    }
    return h._form(
        200,
        {
            "oauth_token": token,
            "oauth_token_secret": jira.state.request_tokens[token]["secret"],
            "oauth_callback_confirmed": "true",
        },
    )


def authorize(h, auth):
    """The page Jira shows the user; "Allow" posts back here."""
    jira = h.server_jira
    token = h.query.get("oauth_token", "")
    pending = jira.state.request_tokens.get(token)
    if pending is None:
        return h._send(400, b"<p>Unknown request token</p>", "text/html")
    if h.command == "GET":
        page = (
            "<html><body><h1>Allow trackbridge access to Jira?</h1>"
            f"<form method='post' action='{OAUTH}/authorize?oauth_token={token}'>"
            "<button id='approve' type='submit'>Allow</button></form></body></html>"
        )
        return h._send(200, page.encode(), "text/html")
    verifier = jira.approve(token)
    callback = pending["callback"]
    if callback == "oob":
        page = f"<p>Your verification code is <code id='verifier'>{verifier}</code></p>"
        return h._send(200, page.encode(), "text/html")
    separator = "&" if "?" in callback else "?"
    query = urlencode({"oauth_token": token, "oauth_verifier": verifier})
    location = f"{callback}{separator}{query}"
    h.send_response(302)
    h.send_header("Location", location)
    h.send_header("Content-Length", "0")
    h.end_headers()


def access_token(h, auth):
    jira = h.server_jira
    token = h.oauth.get("oauth_token") if auth else None
    pending = jira.state.request_tokens.pop(token, None) if token else None
    if pending is None:
        return h._form(401, {"oauth_problem": "token_rejected"})
    if (
        pending["verifier"] is None
        or h.oauth.get("oauth_verifier") != pending["verifier"]
    ):
        return h._form(401, {"oauth_problem": "permission_unknown"})
    access, secret = secrets.token_urlsafe(12), secrets.token_urlsafe(12)
    jira.state.access_tokens[access] = secret
    return h._form(200, {"oauth_token": access, "oauth_token_secret": secret})


# ---- REST ----


def _require_user(h, auth):
    if auth is None or not auth.split(":", 1)[1]:
        h._json(401, {"errorMessages": ["You are not authenticated."]})
        return False
    return True


def server_info(h, auth):
    jira = h.server_jira
    numbers = [int(n) for n in jira.state.version.split(".")]
    return h._json(
        200,
        {
            "baseUrl": jira.url,
            "version": jira.state.version,
            "versionNumbers": numbers,
            "deploymentType": "Server",
            "serverTitle": "Fake Jira",
        },
    )


def myself(h, auth):
    if _require_user(h, auth):
        jira = h.server_jira
        name = auth.split(":", 1)[1] if auth.startswith("bearer:") else jira.state.user
        return h._json(
            200,
            {
                "name": name,
                "key": name,
                "emailAddress": f"{name}@jira.example",
                "displayName": name.title(),
            },
        )


def my_permissions(h, auth):
    if _require_user(h, auth):
        admin = h.server_jira.state.admin
        return h._json(
            200,
            {
                "permissions": {
                    "ADMINISTER": {"key": "ADMINISTER", "havePermission": admin},
                    "BROWSE_PROJECTS": {
                        "key": "BROWSE_PROJECTS",
                        "havePermission": True,
                    },
                }
            },
        )


def statuses(h, auth):
    if _require_user(h, auth):
        return h._json(200, h.server_jira.state.statuses)


def project(h, auth, rest):
    """``GET /rest/api/2/project/{idOrKey}`` and ``.../{idOrKey}/statuses``."""
    if not _require_user(h, auth):
        return None
    jira = h.server_jira
    id_or_key, _, tail = rest.partition("/")
    found = fake_jira_create.find_project(jira, id_or_key)
    if found is None or tail not in ("", "statuses", "versions"):
        return h._json(
            404, {"errorMessages": [f"No project could be found with key '{rest}'."]}
        )
    if tail == "":
        return h._json(200, {k: found[k] for k in ("id", "key", "name")})
    if tail == "versions":
        return fake_jira_create.versions(h, jira, found)
    by_id = {s["id"]: s for s in jira.state.statuses}
    return h._json(
        200,
        [
            {
                "id": "10001",
                "name": "Task",
                "subtask": False,
                "statuses": [by_id[i] for i in found["statuses"]],
            }
        ],
    )


def jira_time(at: float | None = None) -> str:
    """A time as Jira writes it: ``2026-11-22T10:15:30.123+0000``."""
    at = time.time() if at is None else at
    text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(at))
    return f"{text}.{int(at * 1000) % 1000:03d}+0000"


def change(jira, key, field, to, *, at=None, by=None):
    """Change an issue's ``status`` (a status id) or ``assignee`` (a user key
    or None) as a Jira user (``by``, a user object) would: the field,
    ``updated``, a changelog history, and the webhook Jira would send (in
    ``outbox``; a test helper, also used by the endpoints that change
    issues)."""
    found = jira.state.issues[key]
    fields = found["fields"]
    when = jira_time(at)
    if field == "status":
        by_id = {st["id"]: st for st in jira.state.statuses}
        before, fields["status"] = fields["status"], by_id[to]
        item = {
            "field": "status",
            "from": before["id"],
            "fromString": before["name"],
            "to": to,
            "toString": by_id[to]["name"],
        }
    else:
        before = fields["assignee"] or {}
        user = jira.state.users.get(to) if to else None
        fields["assignee"] = user
        item = {
            "field": "assignee",
            "from": before.get("key"),
            "fromString": before.get("displayName"),
            "to": user["key"] if user else None,
            "toString": user["displayName"] if user else None,
        }
    fields["updated"] = when
    history = {"id": str(len(found["histories"]) + 1), "created": when, "items": [item]}
    if by is not None:
        history["author"] = by
    found.setdefault("histories", []).append(history)
    jira.state.outbox.append(
        _webhook(found, by, "jira:issue_updated", changelog={"items": [item]})
    )


def _webhook(found, by, event, **extra) -> bytes:
    """The body of the webhook Jira Server sends about a change."""
    issue = {
        "id": found["id"],
        "key": found["key"],
        "fields": {
            name: found["fields"].get(name)
            for name in ("assignee", "status", "updated", "project", "summary")
        },
    }
    body = {"timestamp": int(time.time() * 1000), "webhookEvent": event,
            "user": by, "issue": issue, **extra}  # fmt: skip
    return json.dumps(body).encode()


def add_issue(jira, key, issue_id, *, status="1", project="PRJ", assignee=None):
    """Put an issue in the fake Jira (a test helper, not an endpoint)."""
    by_id = {st["id"]: st for st in jira.state.statuses}
    project_row = jira.state.projects.get(project) or {
        "id": "10000",
        "key": project,
        "name": project,
    }
    jira.state.issues[key] = {
        "id": issue_id,
        "key": key,
        "fields": {
            "summary": f"Summary of {key}",
            "description": "",
            "status": by_id[status],
            "project": {k: project_row[k] for k in ("id", "key", "name")},
            "assignee": jira.state.users.get(assignee) if assignee else None,
            "updated": jira_time(),
        },
        "comments": {},
        "histories": [],
    }
    return jira.state.issues[key]


def issue(h, auth, rest):
    """``/rest/api/2/issue/{key}[/assignee|/transitions|/comment[/{id}]]``."""
    if not _require_user(h, auth):
        return None
    jira = h.server_jira
    key, _, tail = rest.partition("/")
    found = jira.state.issues.get(key) or next(
        (i for i in jira.state.issues.values() if i["id"] == key), None
    )
    if found is None:
        return h._json(404, {"errorMessages": ["Issue Does Not Exist"], "errors": {}})
    handler = ISSUE_ROUTES.get((h.command, tail.split("/")[0]))
    if handler is None:
        return h._json(404, {"errorMessages": ["Not found"]})
    return handler(h, jira, found, tail)


def _issue_get(h, jira, found, tail):
    return h._json(200, {k: found[k] for k in ("id", "key", "fields")})


def _issue_assign(h, jira, found, tail):
    name = json.loads(h.body).get("name")
    if name is None:
        change(jira, found["key"], "assignee", None, by=_user_named(h.auth))
        return h._send(204, b"", "application/json")
    user = next((u for u in jira.state.users.values() if u["name"] == name), None)
    if user is None:
        return h._json(
            400,
            {
                "errorMessages": [],
                "errors": {"assignee": f"User '{name}' does not exist."},
            },
        )
    change(jira, found["key"], "assignee", user["key"], by=_user_named(h.auth))
    return h._send(204, b"", "application/json")


def _open_transitions(jira, found):
    current = found["fields"]["status"]["id"]
    return [t for t in jira.state.transitions if t["to"] != current]


def _issue_transitions(h, jira, found, tail):
    by_id = {st["id"]: st for st in jira.state.statuses}
    expand = h.query.get("expand") == "transitions.fields"
    return h._json(
        200,
        {
            "expand": "transitions",
            "transitions": [
                {
                    "id": t["id"],
                    "name": t["name"],
                    "to": by_id[t["to"]],
                    **({"fields": t["fields"]} if expand else {}),
                }
                for t in _open_transitions(jira, found)
            ],
        },
    )


def _issue_transition(h, jira, found, tail):
    data = json.loads(h.body)
    wanted = str(data.get("transition", {}).get("id"))
    chosen = next(
        (t for t in _open_transitions(jira, found) if t["id"] == wanted), None
    )
    if chosen is None:
        return h._json(
            400,
            {
                "errorMessages": [
                    f"Transition id '{wanted}' is not valid for this issue."
                ],
                "errors": {},
            },
        )
    given = data.get("fields") or {}
    missing = {
        field_id: f"{spec['name']} is required."
        for field_id, spec in chosen["fields"].items()
        if spec.get("required") and field_id not in given
    }
    if missing:
        return h._json(400, {"errorMessages": [], "errors": missing})
    change(jira, found["key"], "status", chosen["to"], by=_user_named(h.auth))
    return h._send(204, b"", "application/json")


def _issue_comment(h, jira, found, tail):
    body = json.loads(h.body).get("body")
    if not body:
        return h._json(
            400,
            {
                "errorMessages": [],
                "errors": {"comment": "Comment body can not be empty!"},
            },
        )
    parts = tail.split("/")
    if h.command == "POST" and len(parts) == 1:
        comment_id = str(
            10000 + sum(len(i["comments"]) for i in jira.state.issues.values()) + 1
        )
    elif h.command == "PUT" and len(parts) == 2 and parts[1] in found["comments"]:
        comment_id = parts[1]
    else:
        return h._json(404, {"errorMessages": ["Can not find a comment for the id."]})
    found["comments"][comment_id] = body
    meta = found.setdefault("comment_meta", {}).setdefault(
        comment_id, {"created": jira_time(), "author": _user_named(h.auth)}
    )
    meta["updated"] = found["fields"]["updated"] = jira_time()
    jira.state.outbox.append(_comment_webhook(found, comment_id, h.command == "PUT"))
    return h._json(
        201 if h.command == "POST" else 200, {"id": comment_id, "body": body}
    )


ISSUE_ROUTES = {
    ("GET", ""): _issue_get,
    ("PUT", "assignee"): _issue_assign,
    ("GET", "transitions"): _issue_transitions,
    ("POST", "transitions"): _issue_transition,
    ("POST", "comment"): _issue_comment,
    ("PUT", "comment"): _issue_comment,
}


def search(h, auth):
    """``GET /rest/api/2/search`` for the JQL shapes trackbridge sends: by key
    or text (the issue picker), by ``updated`` or ``id in`` (reconcile), and
    a project's issues created lately (a create whose answer was lost)."""
    if not _require_user(h, auth):
        return None
    jql = h.query.get("jql", "")
    issues = list(h.server_jira.state.issues.values())
    by_key = re.fullmatch(r'id="(.*)"', jql)
    by_text = re.fullmatch(r'text ~ "(.*)"', jql)
    recent = re.fullmatch(r"updated >= -(\d+)m ORDER BY updated ASC", jql)
    by_ids = re.fullmatch(r"id in \(([\d, ]+)\) ORDER BY updated ASC", jql)
    created = re.fullmatch(
        r"project = (\S+) AND created >= -(\d+)m ORDER BY created DESC", jql
    )
    if by_key:
        found = [i for i in issues if i["key"] == by_key.group(1)]
    elif by_text:
        text = by_text.group(1).replace('\\"', '"').replace("\\\\", "\\")
        found = [i for i in issues if text.lower() in i["fields"]["summary"].lower()]
    elif recent:
        cutoff = jira_time(time.time() - 60 * int(recent.group(1)))
        found = sorted(
            (i for i in issues if i["fields"].get("updated", "") >= cutoff),
            key=lambda i: i["fields"].get("updated", ""),
        )
    elif by_ids:
        wanted = {part.strip() for part in by_ids.group(1).split(",")}
        found = sorted(
            (i for i in issues if i["id"] in wanted),
            key=lambda i: i["fields"].get("updated", ""),
        )
    elif created:
        project, minutes = created.group(1), int(created.group(2))
        cutoff = jira_time(time.time() - 60 * minutes)
        found = sorted(
            (
                i
                for i in issues
                if str(i["fields"].get("project", {}).get("id")) == project
                and i["fields"].get("created", "") >= cutoff
            ),
            key=lambda i: i["fields"].get("created", ""),
            reverse=True,
        )
    else:
        return h._json(400, {"errorMessages": [f"Error in the JQL Query: {jql}"]})
    start = int(h.query.get("startAt") or 0)
    page = found[start : start + int(h.query.get("maxResults") or 50)]
    fields = (h.query.get("fields") or "summary").split(",")
    return h._json(
        200,
        {
            "startAt": start,
            "total": len(found),
            "issues": [_found(i, fields, h.query.get("expand")) for i in page],
        },
    )


def add_comment(jira, key, body, *, author="carol", at=None) -> str:
    """A comment made in Jira by a Jira user (a test helper); its id."""
    found = jira.issues[key]
    comment_id = str(10000 + sum(len(i["comments"]) for i in jira.issues.values()) + 1)
    found["comments"][comment_id] = body
    when = jira_time(at)
    found.setdefault("comment_meta", {})[comment_id] = {
        "created": when, "updated": when,
        "author": {"name": author, "key": author, "displayName": author.title()},
    }  # fmt: skip
    found["fields"]["updated"] = when
    jira.state.outbox.append(_comment_webhook(found, comment_id, False))
    return comment_id


def _comment_webhook(found, comment_id: str, edited: bool) -> bytes:
    meta = found["comment_meta"][comment_id]
    comment = {"id": comment_id, "body": found["comments"][comment_id], **meta}
    return _webhook(
        found,
        meta["author"],
        "comment_updated" if edited else "comment_created",
        comment=comment,
    )


def _user_named(auth) -> dict:
    """The authenticated user (``auth`` is ``how:user``), as Jira shows one."""
    name = auth.split(":", 1)[1] if isinstance(auth, str) and ":" in auth else "admin"
    return {"name": name, "key": name, "displayName": name.title()}


def _comment_field(issue) -> dict:
    """``fields.comment`` as Jira's search answers it."""
    meta = issue.get("comment_meta", {})
    comments = [
        {"id": comment_id, "body": body, **meta.get(comment_id, {})}
        for comment_id, body in issue["comments"].items()
    ]
    return {"startAt": 0, "maxResults": len(comments), "total": len(comments),
            "comments": comments}  # fmt: skip


def _found(issue, fields, expand) -> dict:
    shown = {
        "id": issue["id"],
        "key": issue["key"],
        "fields": {f: issue["fields"].get(f) for f in fields if f in issue["fields"]},
    }
    if "comment" in fields:
        shown["fields"]["comment"] = _comment_field(issue)
    if expand == "changelog":
        histories = issue.get("histories", [])
        shown["changelog"] = {
            "startAt": 0,
            "maxResults": len(histories),
            "total": len(histories),
            "histories": histories,
        }
    return shown


def assignable_users(h, auth):
    """``GET /rest/api/2/user/assignable/search?issueKey=|project=&username=``."""
    if not _require_user(h, auth):
        return None
    jira = h.server_jira
    if "issueKey" not in h.query and "project" not in h.query:
        return h._json(400, {"errorMessages": ["issueKey or project is required"]})
    if "issueKey" in h.query and h.query["issueKey"] not in jira.state.issues:
        return h._json(404, {"errorMessages": ["Issue Does Not Exist"]})
    needle = h.query.get("username", "").lower()
    return h._json(
        200,
        [
            u
            for u in jira.state.users.values()
            if needle in u["name"].lower()
            or needle in u.get("emailAddress", "").lower()
            or needle in u.get("displayName", "").lower()
        ],
    )


def user(h, auth):
    """``GET /rest/api/2/user?key=`` or ``?username=`` (one is required)."""
    if not _require_user(h, auth):
        return None
    users = h.server_jira.state.users.values()
    if "key" in h.query:
        found = [u for u in users if u["key"] == h.query["key"]]
    elif "username" in h.query:
        found = [u for u in users if u["name"] == h.query["username"]]
    else:
        return h._json(400, {"errorMessages": ["username or key is required"]})
    if not found:
        wanted = h.query.get("username") or h.query.get("key")
        return h._json(
            404, {"errorMessages": [f"The user named '{wanted}' does not exist"]}
        )
    return h._json(200, found[0])


def _create_webhook(h, auth, modern: bool):
    jira = h.server_jira
    major = int(jira.state.version.split(".")[0])
    if (major >= 10) != modern:
        return h._json(404, {"errorMessages": ["Not found"]})
    if not _require_user(h, auth):
        return None
    data = json.loads(h.body)
    if not jira.state.admin:
        denied = f"You do not have permission to create WebHook '{data['name']}'."
        return h._json(
            403,
            {"messages": [{"key": denied}]},
        )
    webhook_id = len(jira.state.webhooks) + 1
    path = "/rest/jira-webhook/1.0/webhooks" if modern else "/rest/webhooks/1.0/webhook"
    jira.state.webhooks[webhook_id] = {**data, "id": webhook_id, "modern": modern}
    return h._json(
        201, {**data, "id": webhook_id, "self": f"{jira.url}{path}/{webhook_id}"}
    )


def _delete_webhook(h, auth, rest, modern: bool):
    jira = h.server_jira
    if not _require_user(h, auth):
        return None
    webhook = jira.state.webhooks.get(int(rest)) if rest.isdigit() else None
    if webhook is None or webhook["modern"] != modern:
        return h._json(404, {"errorMessages": ["Webhook not found"]})
    del jira.state.webhooks[int(rest)]
    return h._send(204, b"", "application/json")


def _checked(handler):
    """A route for an API call: the caller must be a known user."""

    def route(h, auth):
        if _require_user(h, auth):
            return handler(h, h.server_jira)
        return None

    return route


ROUTES = {
    ("POST", f"{OAUTH}/request-token"): request_token,
    ("GET", f"{OAUTH}/authorize"): authorize,
    ("POST", f"{OAUTH}/authorize"): authorize,
    ("POST", f"{OAUTH}/access-token"): access_token,
    ("GET", "/rest/api/2/serverInfo"): server_info,
    ("GET", "/rest/api/2/myself"): myself,
    ("GET", "/rest/api/2/mypermissions"): my_permissions,
    ("GET", "/rest/api/2/status"): statuses,
    ("GET", "/rest/api/2/user"): user,
    ("GET", "/rest/api/2/user/assignable/search"): assignable_users,
    ("GET", "/rest/api/2/search"): search,
    **{
        (method, path): _checked(handler)
        for method, path, handler in (
            ("GET", "/rest/api/2/project", fake_jira_create.projects),
            ("GET", "/rest/api/2/priority", fake_jira_create.priorities),
            ("POST", "/rest/api/2/issue", fake_jira_create.create_issue),
            ("GET", "/rest/api/2/issue/createmeta", fake_jira_create.legacy_createmeta),
            (
                "GET",
                "/rest/api/2/jql/autocompletedata/suggestions",
                fake_jira_create.suggestions,
            ),
        )
    },
    ("POST", "/rest/webhooks/1.0/webhook"): lambda h, a: _create_webhook(h, a, False),
    ("POST", "/rest/jira-webhook/1.0/webhooks"): lambda h, a: _create_webhook(
        h, a, True
    ),
}
PREFIX_ROUTES = {
    # Before ``issue/``: the first matching prefix answers.
    ("GET", "/rest/api/2/issue/createmeta/"): lambda h, a, rest: (
        _require_user(h, a) and fake_jira_create.createmeta(h, h.server_jira, rest)
    ),
    ("GET", "/rest/api/2/project/"): project,
    **{(m, "/rest/api/2/issue/"): issue for m in ("GET", "POST", "PUT")},
    ("DELETE", "/rest/webhooks/1.0/webhook/"): lambda h, a, r: _delete_webhook(
        h, a, r, False
    ),
    ("DELETE", "/rest/jira-webhook/1.0/webhooks/"): lambda h, a, r: _delete_webhook(
        h, a, r, True
    ),
}
