"""The console: an organization's integrations, groups, deliveries and dead
letters, as HTML pages for people (server-rendered, no script needed).

``/console/{org}`` is opened with a one-time link (``trackbridge console``)
or signed in with the organization's API token; after that the browser
holds only an HttpOnly session cookie (SameSite=Lax, so the link a Jira
issue carries back to its group opens signed in), and every form carries
a CSRF token bound to it and must come from this host. Each page shows
only the signed-in organization's objects: another organization's URL is
the sign-in page, another organization's object a 404.

This module holds what every page shares and the group and list pages;
``host.api.console_integrations`` the overview and its buttons.
"""

from __future__ import annotations

from urllib.parse import urlencode

import falcon

from host import validation
from host.api.hooks import attempt as attempt_shape
from host.api.hooks import hook as hook_shape
from host.api.pages import (
    csrf_ok,
    csrf_token,
    read_form,
    same_origin,
    start_session,
    templates,
    token_sign_in,
)
from host.errors import NotFound, TrackbridgeError, ValidationError
from host.services.events import TYPES as EVENT_TYPES
from host.services.groups import STATUSES, Source
from host.services.inbound import DELIVERY_STATUSES
from host.types import FormField, Organization

COOKIE = "tb_console"
COOKIE_PATH = "/console/"
#: How many rows a list page shows.
PAGE_ROWS = 100
#: Page numbers and ids in links stay below this (an offset SQLite can hold).
PAGE_LIMIT = 10**9
#: The longest token label the console takes.
LABEL_LENGTH = 100


def console_path(slug: str, rest: str = "") -> str:
    return f"/console/{slug}{rest}"


def _whole_number(req, name: str) -> int | None:
    """A positive whole number from the query; None when absent or not one
    (an old or mangled link shows the first page, as a bad filter does)."""
    value = req.get_param(name) or ""
    if value.isascii() and value.isdigit() and 0 < int(value) < PAGE_LIMIT:
        return int(value)
    return None


def _this_page_with(req, **changes) -> str:
    """This page's URL with its query's ``changes`` (None leaves one out);
    the notice of an earlier action is not carried along."""
    query = {name: value for name, value in req.params.items() if name != "done"}
    query.update(changes)
    kept = {name: value for name, value in query.items() if value not in (None, "")}
    return f"{req.path}?{urlencode(kept, doseq=True)}" if kept else req.path


def _newest_first_pager(req, rows: list[dict], before: int | None) -> dict:
    """Links for a list newest first, paged by id (``?before=``): older
    rows, and back to the newest. ``rows``: one more than a page holds, if
    there are more."""
    return {
        "previous": ("← Newest", _this_page_with(req, before=None)) if before else None,
        "next": ("Older →", _this_page_with(req, before=rows[PAGE_ROWS - 1]["id"]))
        if len(rows) > PAGE_ROWS
        else None,
    }


class ConsolePage:
    """Signing in, the session and CSRF, which every console page shares
    (not the responders: a route gets only the methods its class defines)."""

    #: The page's name in the navigation.
    section = ""

    def __init__(self, host) -> None:
        self.host = host

    # ---- who is signed in ----

    def _signed_in(self, req, resp, slug) -> tuple[Organization, str] | None:
        """The organization and session, or None with the sign-in page (or
        the link's redirect) already in ``resp``."""
        link = req.get_param("link")
        if link:
            try:
                organization = self.host.console.redeem_link(link)
            except NotFound as ex:
                resp.status = falcon.HTTP_404
                self._render_sign_in(resp, slug, error=ex.detail)
                return None
            self._sign_in(resp, organization, slug, req.path)
        return self._session(req, resp, slug)

    def _session(self, req, resp, slug) -> tuple[Organization, str] | None:
        """The session's organization if it is ``slug``'s; else None, with
        the sign-in page in ``resp``."""
        session_id = req.cookies.get(COOKIE)
        organization = (
            self.host.settings.session_organization(session_id) if session_id else None
        )
        if organization is None or organization.slug != slug:
            resp.status = falcon.HTTP_401
            self._render_sign_in(resp, slug)
            return None
        return organization, session_id

    def _form(self, req, resp, slug) -> tuple[Organization, str, dict] | None:
        """A posted form of a signed-in session, or None with the answer
        (signed in by token: a redirect; refused: the sign-in page) in ``resp``.

        :raises falcon.HTTPForbidden: from another site, or without the token.
        """
        same_origin(req, self.host.config.public_url)
        data = read_form(req, self.host.config.max_body_bytes)
        if data.get("_action") == "signin":
            organization, refused = token_sign_in(self.host, data, slug)
            if organization is None:
                resp.status = falcon.HTTP_401
                self._render_sign_in(resp, slug, error=refused)
                return None
            self._sign_in(resp, organization, slug, req.path)
        signed = self._session(req, resp, slug)
        if signed is None:
            return None
        organization, session_id = signed
        if not csrf_ok(data, session_id):
            raise falcon.HTTPForbidden(
                description="This form has expired or did not come from this page:"
                " open the page again."
            )
        return organization, session_id, data

    def _sign_in(self, resp, organization, slug, path) -> None:
        if organization.slug != slug:
            raise NotFound(f"Organization {slug!r} not found.")
        start_session(
            resp,
            self.host,
            organization,
            cookie=COOKIE,
            path=COOKIE_PATH,
            same_site="Lax",
        )
        raise falcon.HTTPSeeOther(path)  # the link's token leaves the URL

    # ---- rendering ----

    def _render_sign_in(self, resp, slug, error=None) -> None:
        resp.content_type = falcon.MEDIA_HTML
        resp.text = templates.get_template("signin.html").render(
            title="Sign in to the console",
            command=f"trackbridge console --org {slug}",
            slug=slug,
            error=error,
            field=FormField(name="token", label="API token", type="password"),
        )

    def _render(self, resp, template, organization, session_id, **context) -> None:
        resp.content_type = falcon.MEDIA_HTML
        resp.text = templates.get_template(f"console/{template}").render(
            organization=organization,
            section=self.section,
            csrf=csrf_token(session_id),
            home=console_path(organization.slug),
            **{"notice": None, "error": None, **context},
        )

    def _sign_in_form(self, req, resp, slug) -> None:
        """A page whose only form is the sign-in: signed in, show it."""
        if self._form(req, resp, slug) is not None:
            raise falcon.HTTPSeeOther(req.path)

    @staticmethod
    def _done(req, notice: str) -> None:
        """Back to the page, saying what was done (post, redirect, get); a
        list stays on the page and filter it was posted from."""
        raise falcon.HTTPSeeOther(_this_page_with(req, done=notice))


class Groups(ConsolePage):
    """``/console/{org}/groups[?status=&q=&page=]``: groups and their
    linked issues, a hundred a page, oldest first."""

    section = "groups"

    def on_get(self, req, resp, slug):
        signed = self._signed_in(req, resp, slug)
        if signed is None:
            return
        organization, session_id = signed
        status = req.get_param("status") or None
        query = (req.get_param("q") or "").strip()
        if status not in (None, *STATUSES):
            status = None  # an old bookmark: show them all
        page = _whole_number(req, "page") or 1
        found = self.host.groups.list(
            organization,
            status=status,
            limit=PAGE_ROWS + 1,
            offset=(page - 1) * PAGE_ROWS,
            title_contains=query or None,
        )
        groups = found[:PAGE_ROWS]
        issues = {
            group.id: self.host.store.integrations.issues_for_group(group.id)
            for group in groups
        }
        self._render(
            resp,
            "groups.html",
            organization,
            session_id,
            title=f"{organization.name}: groups",
            groups=groups,
            issues=issues,
            status=status,
            statuses=STATUSES,
            query=query,
            first=(page - 1) * PAGE_ROWS + 1,
            pager={
                "previous": (
                    f"← Previous {PAGE_ROWS}",
                    _this_page_with(req, page=page - 1 if page > 2 else None),
                )
                if page > 1
                else None,
                "next": (f"Next {PAGE_ROWS} →", _this_page_with(req, page=page + 1))
                if len(found) > PAGE_ROWS
                else None,
            },
        )

    def on_post(self, req, resp, slug):
        self._sign_in_form(req, resp, slug)


class GroupPage(ConsolePage):
    """``/console/{org}/groups/{id}``: a group's links, comments and
    activity; comment on it, unlink an issue. The back-link in tracker
    issues points here (``[host] group_url_template``'s default)."""

    section = "groups"

    def on_get(self, req, resp, slug, group_id):
        signed = self._signed_in(req, resp, slug)
        if signed is None:
            return
        self._render_group(req, resp, *signed, group_id)

    def on_post(self, req, resp, slug, group_id):
        form = self._form(req, resp, slug)
        if form is None:
            return
        organization, session_id, data = form
        group = self.host.groups.get(organization, group_id)
        action = data.get("_action")

        def refuse(field: str, problem: str) -> None:
            """A form left empty: 400, the page again with what was typed."""
            resp.status = falcon.HTTP_400
            self._render_group(
                req,
                resp,
                organization,
                session_id,
                group_id,
                errors={field: [problem]},
                values=data,
            )

        try:
            if action == "comment":
                text = str(data.get("text", "")).strip()
                if not text:
                    return refuse("text", "Write a comment first.")
                self.host.groups.add_comment(group, text, Source(user=True))
                self._done(req, "Comment added.")
            if action == "link":
                key = str(data.get("key", "")).strip()
                if not key:
                    return refuse("key", "Enter the key of the issue, such as PRJ-12.")
                self.host.tracker_issues.link(
                    organization, group.id, _id(data.get("integration")), key, {}
                )
                self._done(req, f"{key} linked.")
            if action == "unlink":
                issue_id = _id(data.get("issue"))
                self.host.tracker_issues.unlink(organization, group.id, issue_id)
                self._done(req, "Issue unlinked.")
        except TrackbridgeError as ex:
            resp.status = falcon.code_to_http_status(ex.status)
            return self._render_group(
                req,
                resp,
                organization,
                session_id,
                group_id,
                error=ex.detail,
                values=data,
            )
        raise falcon.HTTPBadRequest(description=f"Unknown action: {action!r}.")

    def _render_group(self, req, resp, organization, session_id, group_id, **context):
        group = self.host.groups.get(organization, group_id)
        self._render(
            resp,
            "group.html",
            organization,
            session_id,
            title=group.title,
            group=group,
            issues=self.host.store.integrations.issues_for_group(group.id),
            comments=self.host.groups.comments(group),
            activity=list(reversed(self.host.groups.activity(group))),
            integrations=[i for i, _ in self.host.integrations.list(organization)],
            notice=req.get_param("done"),
            **{"errors": {}, "values": {}, **context},
        )


class GroupCreateIssue(ConsolePage):
    """``/console/{org}/groups/{id}/create?integration=N``: the provider's
    create form for the group (the API's, as HTML). Choosing a project or
    an issue type changes the form: "Update the form" asks for it again
    with the choices so far (a script presses it on such a change); Create
    makes the issue, links it and goes back to the group."""

    section = "groups"

    def on_get(self, req, resp, slug, group_id):
        signed = self._signed_in(req, resp, slug)
        if signed is None:
            return
        organization, session_id = signed
        integration_id = _id(req.get_param("integration"))
        self._render_form(resp, organization, session_id, group_id, integration_id, {})

    def on_post(self, req, resp, slug, group_id):
        form = self._form(req, resp, slug)
        if form is None:
            return
        organization, session_id, data = form
        integration_id = _id(data.get("integration"))
        # What the person chose: blanks are fields left alone.
        chosen = {
            name: value
            for name, value in data.items()
            if not name.startswith("_")
            and name != "integration"
            and value not in ("", [])
        }
        if data.get("_action") == "update":
            return self._render_form(
                resp, organization, session_id, group_id, integration_id, chosen
            )
        try:
            issue = self.host.tracker_issues.create(
                organization, group_id, integration_id, chosen
            )
        except TrackbridgeError as ex:
            # Field problems go beside their fields; anything else above.
            errors = ex.errors if isinstance(ex, ValidationError) else {}
            resp.status = falcon.code_to_http_status(ex.status)
            return self._render_form(
                resp,
                organization,
                session_id,
                group_id,
                integration_id,
                chosen,
                errors=errors,
                error=None if errors else ex.detail,
            )
        raise falcon.HTTPSeeOther(
            console_path(slug, f"/groups/{group_id}?")
            + urlencode({"done": f"{issue.key} created and linked."})
        )

    def _render_form(
        self, resp, organization, session_id, group_id, integration_id, chosen, **more
    ):
        group = self.host.groups.get(organization, group_id)
        integration, _ = self.host.integrations.get(organization, integration_id)
        params = {k: v for k, v in chosen.items() if isinstance(v, str)}
        try:
            fields = self.host.tracker_issues.create_form(
                organization, group.id, integration.id, params
            )
        except TrackbridgeError as ex:
            fields, more = [], {**more, "error": ex.detail}
            resp.status = falcon.code_to_http_status(ex.status)
        self._render(
            resp,
            "create.html",
            organization,
            session_id,
            title=f"New {integration.name} issue for {group.title}",
            group=group,
            integration=integration,
            fields=fields,
            values={
                **{f.name: f.default for f in fields if f.default is not None},
                **chosen,
            },
            **{"errors": {}, **more},
        )


class ListWithAction(ConsolePage):
    """A list page whose rows each have one button (reprocess, retry): the
    button posts the row's id as ``field``; done, the page says ``done``."""

    template = ""
    field = ""
    done = ""

    def on_get(self, req, resp, slug):
        signed = self._signed_in(req, resp, slug)
        if signed is None:
            return
        self._render_list(req, resp, *signed)

    def on_post(self, req, resp, slug):
        form = self._form(req, resp, slug)
        if form is None:
            return
        self._act(req, resp, *form)

    def _act(self, req, resp, organization, session_id, data):
        try:
            self.act(organization, _id(data.get(self.field)), data)
        except TrackbridgeError as ex:
            resp.status = falcon.code_to_http_status(ex.status)
            return self._render_list(
                req, resp, organization, session_id, error=ex.detail
            )
        self._done(req, self.done)

    def act(self, organization: Organization, object_id: int, data: dict) -> None:
        """Do the row's action to ``object_id`` (the rest of the form in
        ``data``); a TrackbridgeError is shown on the page."""
        raise NotImplementedError

    def rows(self, req, organization: Organization) -> dict:
        """What the template shows besides the common parts."""
        raise NotImplementedError

    def _render_list(self, req, resp, organization, session_id, **context):
        self._render(
            resp,
            self.template,
            organization,
            session_id,
            notice=req.get_param("done"),
            **{**self.rows(req, organization), **context},
        )


class Deliveries(ListWithAction):
    """``/console/{org}/deliveries[?status=&before=]``: the webhook
    delivery log, newest first; apply one again."""

    section = "deliveries"
    template = "deliveries.html"
    field = "delivery"
    done = "Queued to be applied again."

    def act(self, organization, object_id, data):
        self.host.inbound.reprocess(organization, object_id)

    def rows(self, req, organization):
        status = req.get_param("status") or None
        if status not in (None, *DELIVERY_STATUSES):
            status = None
        integrations = self.host.integrations.list(organization)
        before = _whole_number(req, "before")
        found = self.host.inbound.recent(
            organization, PAGE_ROWS + 1, before_id=before, status=status
        )
        return {
            "title": f"{organization.name}: deliveries",
            "deliveries": found[:PAGE_ROWS],
            "pager": _newest_first_pager(req, found, before),
            "names": {i.id: i.name for i, _ in integrations},
            "status": status,
            "statuses": DELIVERY_STATUSES,
        }


class DeadJobs(ListWithAction):
    """``/console/{org}/jobs[?before=]``: dead letters, newest first, and
    retrying one."""

    section = "jobs"
    template = "jobs.html"
    field = "job"
    done = "Queued again."

    def act(self, organization, object_id, data):
        self.host.jobs.retry_for(organization, object_id)

    def rows(self, req, organization):
        before = _whole_number(req, "before")
        found = self.host.jobs.dead_letters(organization, PAGE_ROWS + 1, before)
        return {
            "title": f"{organization.name}: dead letters",
            "jobs": found[:PAGE_ROWS],
            "pager": _newest_first_pager(req, found, before),
        }


class Tokens(ListWithAction):
    """``/console/{org}/tokens``: the organization's API tokens; make one
    (shown on that answer only) or revoke one."""

    section = "tokens"
    template = "tokens.html"
    field = "token"
    done = "Revoked: it is refused from the next request on."

    def on_post(self, req, resp, slug):
        form = self._form(req, resp, slug)
        if form is None:
            return
        organization, session_id, data = form
        if data.get("_action") != "create":
            return self._act(req, resp, organization, session_id, data)
        label = str(data.get("label", "")).strip()
        expires = str(data.get("expires", "")).strip()
        errors = {}
        if len(label) > LABEL_LENGTH:
            errors["label"] = [f"At most {LABEL_LENGTH} characters."]
        try:
            seconds = validation.duration(expires, "expires") if expires else None
        except ValidationError as ex:
            errors.update(ex.errors)
        if errors:
            resp.status = falcon.HTTP_400
            return self._render_list(
                req, resp, organization, session_id, errors=errors, values=data
            )
        made = self.host.organizations.create_token(organization, label, seconds)
        self._render_list(req, resp, organization, session_id, made=made)

    def act(self, organization, object_id, data):
        self.host.organizations.revoke_token(organization, object_id)

    def rows(self, req, organization):
        return {
            "title": f"{organization.name}: API tokens",
            "tokens": self.host.organizations.tokens(organization),
            "made": None,
            "errors": {},
            "values": {},
        }


class Hooks(ListWithAction):
    """``/console/{org}/hooks``: the change feed's webhook subscriptions,
    each with its latest delivery attempts; make one (its secret shown on
    that answer only), turn one off or on, remove one, send one again."""

    section = "hooks"
    template = "hooks.html"
    field = "attempt"
    done = "Queued to be sent again."
    #: Attempts shown per hook.
    ATTEMPTS = 10
    #: What the other buttons say when done.
    DONE = {
        "on": "Turned on: it sends from where it stopped.",
        "off": "Turned off: nothing is sent until it is turned on.",
        "remove": "Removed: nothing more is sent to it.",
    }

    def on_post(self, req, resp, slug):
        form = self._form(req, resp, slug)
        if form is None:
            return
        organization, session_id, data = form
        action = data.get("_action")
        if action == "create":
            return self._create(req, resp, organization, session_id, data)
        if action not in self.DONE:
            return self._act(req, resp, organization, session_id, data)
        try:
            hook_id = _id(data.get("hook"))
            if action == "remove":
                self.host.hooks.delete(organization, hook_id)
            else:
                self.host.hooks.update(
                    organization, hook_id, {"active": action == "on"}
                )
        except TrackbridgeError as ex:
            resp.status = falcon.code_to_http_status(ex.status)
            return self._render_list(
                req, resp, organization, session_id, error=ex.detail
            )
        self._done(req, self.DONE[action])

    def _create(self, req, resp, organization, session_id, data) -> None:
        events = data.get("events", [])
        wanted = {
            "url": str(data.get("url", "")).strip(),
            "events": events if isinstance(events, list) else [events],
        }
        try:
            hook, secret = self.host.hooks.create(organization, wanted)
        except ValidationError as ex:
            resp.status = falcon.HTTP_400
            return self._render_list(
                req, resp, organization, session_id, errors=ex.errors, values=wanted
            )
        self._render_list(
            req,
            resp,
            organization,
            session_id,
            made={"url": hook["url"], "secret": secret},
        )

    def act(self, organization, object_id, data):
        self.host.hooks.redeliver(organization, _id(data.get("hook")), object_id)

    def rows(self, req, organization):
        hooks = [hook_shape(h) for h in self.host.hooks.list(organization)]
        return {
            "title": f"{organization.name}: webhooks out",
            "hooks": hooks,
            "attempts": {
                h["id"]: [
                    attempt_shape(a)
                    for a in self.host.hooks.attempts(
                        organization, h["id"], self.ATTEMPTS, None
                    )
                ]
                for h in hooks
            },
            "event_types": EVENT_TYPES,
            "made": None,
            "errors": {},
            "values": {},
        }


def _id(value) -> int:
    """A posted object id; a 404 for anything that is not one (a form
    cannot name another organization's object either way)."""
    text = str(value or "")
    if not (text.isascii() and text.isdigit() and 0 < int(text) < 2**63):
        raise NotFound("No such object.")
    return int(text)
