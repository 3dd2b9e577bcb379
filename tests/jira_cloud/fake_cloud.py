"""A fake Jira Cloud site over real HTTP on loopback that checks every
Connect JWT it is sent as Atlassian does (HS256 with the site's shared
secret, ``iss`` the app key, ``iat``/``exp``, the qsh of that very request)
and refuses a bad one with 401."""

from __future__ import annotations

import base64
import json
import re
from http.server import BaseHTTPRequestHandler
from urllib.parse import urlsplit

import jwt

from plugins.jira import connect
from tests.servers import LoopbackFake


class FakeJiraCloud(LoopbackFake):
    def __init__(self, shared_secret: str, app_key: str = "tb.example.trackbridge"):
        self.shared_secret = shared_secret
        self.app_key = app_key
        self.account_id = "557058:app-account-of-trackbridge"
        #: accountId -> email, for /rest/api/3/user/email.
        self.emails: dict[str, str] = {}
        self.statuses = [
            {"id": "1", "name": "To Do", "statusCategory": {"key": "new"}},
            {
                "id": "3",
                "name": "In Progress",
                "statusCategory": {"key": "indeterminate"},
            },
            {"id": "10001", "name": "Done", "statusCategory": {"key": "done"}},
        ]
        #: key -> {"id", "status", "project", "assignee", "comments"}.
        self.issues: dict[str, dict] = {}
        #: email -> API token, for basic auth; and who is a site administrator.
        self.api_tokens: dict[str, str] = {}
        self.admins: set[str] = set()
        #: Webhooks made through /rest/webhooks/1.0/webhook, by id.
        self.webhooks: dict[str, dict] = {}
        #: accountId -> user, for the assignable search.
        self.users: dict[str, dict] = {}
        #: (method, path, query, claims) of each request that passed.
        self.requests: list[tuple[str, str, str, dict]] = []
        #: Every JQL searched.
        self.searches: list[str] = []
        #: Why requests were refused.
        self.refused: list[str] = []
        super().__init__(self._handler())

    # ---- projects and create metadata, in Cloud's shapes ----

    PROJECT = {"id": "10000", "key": "APP", "name": "Application"}
    FIELDS = [
        {"fieldId": "summary", "name": "Summary", "required": True,
         "schema": {"type": "string"}},
        {"fieldId": "description", "name": "Description", "required": False,
         "schema": {"type": "string"}},
        {"fieldId": "assignee", "name": "Assignee", "required": False,
         "schema": {"type": "user"}},
        {"fieldId": "labels", "name": "Labels", "required": False,
         "schema": {"type": "array", "items": "string"}},
    ]  # fmt: skip

    def metadata(self, path: str, query: dict):
        """Projects, statuses and create metadata (paged as Cloud pages:
        ``issueTypes``/``fields`` with ``startAt``, ``maxResults``, ``total``)."""
        project = self.PROJECT
        refs = (project["id"], project["key"])
        if path == "/rest/api/3/project":
            return [project]
        if path in (f"/rest/api/3/project/{r}" for r in refs):
            return project
        if path in (f"/rest/api/3/project/{r}/statuses" for r in refs):
            return [{"id": "10002", "name": "Task", "statuses": self.statuses}]
        start = int((query.get("startAt") or ["0"])[0])
        base = f"/rest/api/3/issue/createmeta/{project['id']}/issuetypes"
        if path == base:
            types = [{"id": "10002", "name": "Task"}, {"id": "10004", "name": "Bug"}]
            # One per page, so paging by total is exercised.
            return {"issueTypes": types[start : start + 1], "startAt": start,
                    "maxResults": 1, "total": len(types)}  # fmt: skip
        if path in (f"{base}/10002", f"{base}/10004"):
            return {"fields": self.FIELDS[start : start + 2], "startAt": start,
                    "maxResults": 2, "total": len(self.FIELDS)}  # fmt: skip
        return None

    def search(self, query: dict) -> dict:
        """``search/jql``: ``id in (...)``, ``id="KEY"``, ``text ~``, or every
        issue for ``updated >= -Nm``; one issue a page, paged by
        ``nextPageToken`` (no ``startAt``, no ``total``)."""
        jql = (query.get("jql") or [""])[0]
        ids = re.search(r"id in \(([^)]*)\)", jql)
        if ids:
            wanted = {i.strip() for i in ids[1].split(",")}
            found = [(k, i) for k, i in self.issues.items() if i["id"] in wanted]
        elif jql.startswith("updated >="):
            found = list(self.issues.items())
        else:
            found = [
                (k, i)
                for k, i in self.issues.items()
                if k.lower() in jql.lower() or "text ~" in jql
            ]
        self.searches.append(jql)
        at = int((query.get("nextPageToken") or ["0"])[0])
        page = [
            {"id": i["id"], "key": k, "fields": {
                "summary": i.get("summary", ""), "status": {"id": i["status"]},
                "project": {"id": i["project"]}, "updated": i.get("updated"),
                "comment": {"comments": []}}}
            for k, i in found[at : at + 1]
        ]  # fmt: skip
        more = at + 1 < len(found)
        return {"issues": page, "isLast": not more} | (
            {"nextPageToken": str(at + 1)} if more else {}
        )

    def create(self, fields: dict) -> tuple[int, dict]:
        description = fields.get("description")
        if description is not None and not (
            isinstance(description, dict) and description.get("type") == "doc"
        ):
            return 400, {
                "errors": {"description": "Operation value must be an ADF document"}
            }
        assignee = fields.get("assignee")
        if assignee is not None and set(assignee) != {"accountId"}:
            return 400, {"errors": {"assignee": "Specify the user by accountId"}}
        key = f"APP-{100 + len(self.issues)}"
        self.issues[key] = {
            "id": str(20000 + len(self.issues)), "summary": fields.get("summary"),
            "description": description, "status": "1", "project": "10000",
            "assignee": (assignee or {}).get("accountId"), "comments": [],
        }  # fmt: skip
        return 201, {"id": self.issues[key]["id"], "key": key}

    def check(self, method: str, target: str, authorization: str | None) -> dict:
        """The claims of a request's JWT (or ``{"basic": email}`` for an API
        token), or ValueError with Atlassian's reason."""
        if authorization and authorization.startswith("Basic "):
            email, _, token = (
                base64.b64decode(authorization[6:]).decode().partition(":")
            )
            if self.api_tokens.get(email) != token:
                raise ValueError("bad API token")
            return {"basic": email}
        if not authorization or not authorization.startswith("JWT "):
            raise ValueError("no JWT")
        token = authorization[4:]
        claims = jwt.decode(
            token,
            self.shared_secret,
            algorithms=["HS256"],
            options={"require": ["iss", "iat", "exp", "qsh"]},
        )
        if claims["iss"] != self.app_key:
            raise ValueError("wrong issuer")
        if claims["exp"] - claims["iat"] > 3600:
            raise ValueError("lifetime too long")
        parts = urlsplit(target)
        expected = connect.query_hash(method, parts.path, connect.query_of(parts.query))
        if claims["qsh"] != expected:
            raise ValueError("qsh mismatch")
        return claims

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def _answer(self, status: int, body) -> None:
                data = b"" if body is None else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _checked(self, method: str):
                try:
                    claims = fake.check(
                        method, self.path, self.headers["Authorization"]
                    )
                except (ValueError, jwt.PyJWTError) as ex:
                    fake.refused.append(str(ex))
                    self._answer(401, {"errorMessages": ["Unauthorized"]})
                    return None
                parts = urlsplit(self.path)
                fake.requests.append((method, parts.path, parts.query, claims))
                length = int(self.headers.get("Content-Length") or 0)
                self.sent = json.loads(self.rfile.read(length)) if length else None
                return parts

            def do_PUT(self) -> None:
                parts = self._checked("PUT")
                if parts is None:
                    return
                issue = self._issue(parts.path)
                if issue is not None and parts.path.endswith("/assignee"):
                    issue["assignee"] = self.sent.get("accountId")
                    return self._answer(204, None)
                return self._answer(404, {"errorMessages": ["Not found"]})

            def do_POST(self) -> None:
                parts = self._checked("POST")
                if parts is None:
                    return
                if parts.path == "/rest/api/3/changelog/bulkfetch":
                    wanted = set(self.sent["issueIdsOrKeys"])
                    logs = [
                        {"issueId": i["id"], "changeHistories": i.get("histories", [])}
                        for i in fake.issues.values()
                        if i["id"] in wanted
                    ]
                    return self._answer(200, {"issueChangeLogs": logs})
                if parts.path == "/rest/api/3/issue":
                    return self._answer(*fake.create(self.sent["fields"]))
                if parts.path == "/rest/webhooks/1.0/webhook":
                    claims = fake.requests[-1][3]
                    if claims.get("basic") not in fake.admins:
                        return self._answer(403, {"errorMessages": ["Forbidden"]})
                    webhook_id = str(len(fake.webhooks) + 1)
                    fake.webhooks[webhook_id] = self.sent
                    where = f"{fake.url}/rest/webhooks/1.0/webhook/{webhook_id}"
                    return self._answer(201, {"self": where})
                issue = self._issue(parts.path)
                if issue is None:
                    return self._answer(
                        404, {"errorMessages": ["Issue does not exist"]}
                    )
                if parts.path.endswith("/transitions"):
                    issue["status"] = self.sent["transition"]["id"]
                    return self._answer(204, None)
                if parts.path.endswith("/comment"):
                    body = self.sent["body"]
                    if not (isinstance(body, dict) and body.get("type") == "doc"):
                        return self._answer(
                            400, {"errors": {"comment": "ADF expected"}}
                        )
                    issue["comments"].append(body)
                    return self._answer(
                        201, {"id": str(30000 + len(issue["comments"]))}
                    )
                return self._answer(404, {"errorMessages": ["Not found"]})

            def do_DELETE(self) -> None:
                parts = self._checked("DELETE")
                if parts is None:
                    return
                webhook_id = parts.path.rsplit("/", 1)[-1]
                if fake.webhooks.pop(webhook_id, None) is None:
                    return self._answer(404, {"errorMessages": ["No webhook"]})
                return self._answer(204, None)

            def _issue(self, path: str):
                parts = path.split("/")
                if len(parts) >= 6 and parts[1:5] == ["rest", "api", "3", "issue"]:
                    return fake.issues.get(parts[5])
                return None

            def do_GET(self) -> None:
                parts = self._checked("GET")
                if parts is None:
                    return
                query = connect.query_of(parts.query)
                issue = self._issue(parts.path)
                found = fake.metadata(parts.path, query)
                if found is not None:
                    return self._answer(200, found)
                if parts.path == "/rest/api/3/search":
                    return self._answer(
                        410, {"errorMessages": ["Gone: use search/jql"]}
                    )
                if parts.path == "/rest/api/3/search/jql":
                    return self._answer(200, fake.search(query))
                if issue is not None and parts.path.endswith("/transitions"):
                    return self._answer(
                        200,
                        {
                            "transitions": [
                                {"id": s["id"], "name": f"To {s['name']}", "to": s}
                                for s in fake.statuses
                            ]
                        },
                    )
                if issue is not None:
                    return self._answer(
                        200,
                        {
                            "id": issue["id"],
                            "key": parts.path.split("/")[5],
                            "fields": {
                                "summary": issue.get("summary", ""),
                                "description": issue.get("description"),
                                "status": {"id": issue["status"]},
                                "project": {"id": issue["project"], "key": "APP"},
                            },
                        },
                    )
                if parts.path == "/rest/api/3/user/assignable/search":
                    wanted = (query.get("query") or [""])[0].lower()
                    return self._answer(
                        200,
                        [
                            u
                            for u in fake.users.values()
                            if wanted in str(u.get("emailAddress", "")).lower()
                            or wanted == u["accountId"].lower()
                        ],
                    )
                if parts.path == "/rest/api/3/myself":
                    basic = fake.requests[-1][3].get("basic")
                    if basic:
                        me = {"accountId": f"557058:{basic}", "displayName": basic}
                        return self._answer(200, me)
                    return self._answer(
                        200,
                        {"accountId": fake.account_id, "displayName": "trackbridge"},
                    )
                if parts.path == "/rest/api/3/status":
                    return self._answer(200, fake.statuses)
                if parts.path == "/rest/api/3/user/email":
                    account = (query.get("accountId") or [""])[0]
                    if account not in fake.emails:
                        return self._answer(404, {"errorMessages": ["No user"]})
                    return self._answer(
                        200, {"accountId": account, "email": fake.emails[account]}
                    )
                return self._answer(404, {"errorMessages": ["Not found"]})

        return Handler
