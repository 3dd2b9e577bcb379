"""The browser settings page of an installed integration.

``/settings/{org}/integrations/{id}`` edits what ``PUT .../integrations/{id}``
edits: the sync toggles and the provider's fields, with status mappings as
one row per tracker project. It is opened with a one-time link
(``trackbridge settings``) or the organization's API token; after that the
browser holds only an HttpOnly, SameSite=Strict session cookie, and every
form carries a CSRF token bound to it. Adding a mapping row re-renders the
page with that project's statuses; nothing is saved until "Save".
"""

from __future__ import annotations

from typing import Any

import falcon

from host.api.pages import (
    BOOLEANS,
    CSRF,
    booleans,
    csrf_ok,
    csrf_token,
    read_form,
    same_origin,
    start_session,
    templates,
    token_sign_in,
)
from host.errors import NotFound, ValidationError
from host.services.settings import SettingsForm
from host.types import FormField, Organization

COOKIE = "tb_session"
COOKIE_PATH = "/settings/"
ADD = "_add."
SAVED = "saved"


class SettingsPage:
    def __init__(self, host) -> None:
        self.host = host

    def on_get(self, req, resp, slug, integration_id):
        link = req.get_param("link")
        if link:
            try:
                organization = self.host.settings.redeem_link(link, integration_id)
            except NotFound as ex:
                resp.status = falcon.HTTP_404
                return self._render_sign_in(resp, slug, error=ex.detail)
            return self._sign_in(resp, organization, slug, integration_id)
        organization, session_id = self._session(req, slug)
        if organization is None:
            return self._render_sign_in(resp, slug)
        form = self.host.settings.form(organization, integration_id)
        self._render_form(
            resp,
            form,
            session_id,
            values=_values(form.fields, form.org_integration.config),
            notice="Saved." if req.get_param(SAVED) else None,
        )

    def on_post(self, req, resp, slug, integration_id):
        same_origin(req, self.host.config.public_url)
        data = read_form(req, self.host.config.max_body_bytes)
        if data.get("_action") == "signin":
            organization, refused = token_sign_in(self.host, data, slug)
            if organization is None:
                resp.status = falcon.HTTP_401
                return self._render_sign_in(resp, slug, error=refused)
            return self._sign_in(resp, organization, slug, integration_id)
        organization, session_id = self._session(req, slug)
        if organization is None or not csrf_ok(data, session_id):
            raise falcon.HTTPForbidden(
                description="This form has expired or did not come from this page:"
                " open the settings page again."
            )
        action = str(data.pop("_action", "save"))
        booleans(data)
        changes = _changes(
            self.host.settings.fields(organization, integration_id), data
        )
        rows = [
            project
            for name, value in changes.items()
            if isinstance(value, dict)
            for project in value
        ]
        if action.startswith(ADD):  # one more mapping row; nothing saved
            added = str(data.get(action, "")).strip()
            form = self.host.settings.form(
                organization, integration_id, [*rows, added] if added else rows
            )
            values = _values(form.fields, changes)
            if added:
                values[action[len(ADD) :]].setdefault(added, {})
            return self._render_form(resp, form, session_id, values=values)
        try:
            self.host.integrations.update_config(organization, integration_id, changes)
        except ValidationError as ex:
            form = self.host.settings.form(organization, integration_id, rows)
            resp.status = falcon.HTTP_400
            return self._render_form(
                resp,
                form,
                session_id,
                values=_values(form.fields, changes),
                errors=ex.errors,
                # Field problems are listed above the form, each linking to its field.
                error=None if ex.errors else ex.detail,
            )
        raise falcon.HTTPSeeOther(f"{_path(slug, integration_id)}?{SAVED}=1")

    # ---- helpers ----

    def _session(self, req, slug) -> tuple[Organization | None, str | None]:
        """The signed-in organization, if it is the one in the URL."""
        session_id = req.cookies.get(COOKIE)
        if not session_id:
            return None, None
        organization = self.host.settings.session_organization(session_id)
        if organization is None or organization.slug != slug:
            return None, None
        return organization, session_id

    def _sign_in(self, resp, organization, slug, integration_id):
        if organization.slug != slug:
            raise NotFound(f"Organization {slug!r} not found.")
        start_session(
            resp,
            self.host,
            organization,
            cookie=COOKIE,
            path=COOKIE_PATH,
            same_site="Strict",
        )
        raise falcon.HTTPSeeOther(_path(slug, integration_id))

    def _render_sign_in(self, resp, slug, error=None):
        resp.content_type = falcon.MEDIA_HTML
        resp.text = templates.get_template("signin.html").render(
            title="Sign in to change settings",
            command="trackbridge settings",
            slug=slug,
            error=error,
            field=FormField(name="token", label="API token", type="password"),
        )

    def _render_form(
        self,
        resp,
        form: SettingsForm,
        session_id,
        *,
        values,
        errors=None,
        error=None,
        notice=None,
    ):
        provider = self.host.providers.get(form.integration.provider)
        labels = {c.value: c.label for c in form.projects}
        resp.content_type = falcon.MEDIA_HTML
        resp.text = templates.get_template("settings.html").render(
            title=f"{provider.name if provider else 'Integration'} settings",
            integration=form.integration,
            trouble=self.host.breakers.status(form.integration),
            fields=form.fields,
            values=values,
            errors=errors or {},
            error=error,
            notice=notice,
            problems=form.problems,
            projects=form.projects,
            project_labels=labels,
            statuses=form.statuses,
            hidden={
                CSRF: csrf_token(session_id),
                BOOLEANS: ",".join(f.name for f in form.fields if f.type == "boolean"),
            },
            add_prefix=ADD,
        )


def _path(slug: str, integration_id: int) -> str:
    return f"{COOKIE_PATH}{slug}/integrations/{integration_id}"


def _values(fields: list[FormField], config) -> dict[str, Any]:
    """What each input shows: lists as "a, b", pairs as "k = v" lines, and
    nothing for a value not set (an input showing "None" would save it)."""
    values: dict[str, Any] = {}
    for field in fields:
        value = config.get(field.name, field.default)
        if field.type == "mapping":
            value = {str(k): dict(v) for k, v in (value or {}).items()}
        elif field.type == "boolean":
            value = value is True
        elif value is None:
            value = ""
        elif isinstance(value, list):
            value = ", ".join(str(v) for v in value)
        elif isinstance(value, dict):
            value = "\n".join(f"{k} = {v}" for k, v in value.items())
        values[field.name] = value
    return values


def _changes(fields: list[FormField], data: dict[str, Any]) -> dict[str, Any]:
    """The posted form as config changes.

    A mapping arrives as ``{field}.row`` (its projects, in order) and
    ``{field}.{project}.{column}`` cells; a row whose cells are all empty, or
    whose remove box is ticked, is dropped.
    """
    changes: dict[str, Any] = {}
    for field in fields:
        if field.type == "mapping":
            rows: dict[str, Any] = {}
            for project in _list(data.get(f"{field.name}.row")):
                prefix = f"{field.name}.{project}."
                if data.get(f"{prefix}_remove"):
                    continue
                cells = {
                    column.value: _list(data.get(prefix + column.value))
                    if field.multiple
                    else str(data.get(prefix + column.value) or "")
                    for column in field.columns
                }
                if any(cells.values()):
                    rows[project] = cells
            changes[field.name] = rows
        elif field.name in data:
            value = data[field.name]
            changes[field.name] = value[-1] if isinstance(value, list) else value
    return changes


def _list(value: Any) -> list[str]:
    if value is None:
        return []
    values = value if isinstance(value, list) else [value]
    return [str(v) for v in values if str(v).strip()]
