"""What went wrong reaching Jira while connecting it, by class of failure,
in words a person can act on: both Jira providers' setups say it alike."""

from __future__ import annotations

from plugins.jira_core.client import OAUTH_HINTS, JiraClient, JiraError


def setup_failure(
    client: JiraClient, ex: JiraError, what: str, refused_hint: str = ""
) -> str:
    """What went wrong reaching Jira during setup, by class of failure
    (``what``: the credentials, as the person knows them; ``refused_hint``:
    what to check when Jira refuses them, where OAuth names no problem)."""
    if ex.kind:
        return ex.detail  # ours: DNS, unreachable, timeout, TLS, redirect...
    status = ex.http_status
    if status in (401, 403):
        oauth_hint = OAUTH_HINTS.get(ex.oauth_problem or "", "")
        problem = f" (oauth_problem={ex.oauth_problem})" if oauth_hint else ""
        hint = oauth_hint or refused_hint
        return f"Jira refused the {what} (HTTP {status}){problem}. {hint}".strip()
    if status == 404:
        return (
            f"{client.netloc} did not answer like Jira: it has no Jira REST API"
            " there (HTTP 404). Check that the URL is your Jira's base URL."
        )
    return f"Jira could not check the {what} (HTTP {status}); try again later."
