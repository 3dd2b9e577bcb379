"""The sync toggles every provider shares, owned by the host.

Each organization's use of an integration turns these on or off in its
config; all are off by default. The host decides from them whether a change
is sent out or applied, so a provider never needs to repeat the check.
"""

OUTBOUND = {
    "assignee": "sync_forward_assignment",
    "status": "sync_status_forward",
    "comment": "sync_comments",
}
INBOUND = {
    "assignee": "sync_reverse_assignment",
    "status": "sync_status_reverse",
    "comment": "sync_comments_reverse",
}
ALL = frozenset(OUTBOUND.values()) | frozenset(INBOUND.values())
#: How the settings form names each toggle, in display order.
LABELS = {
    "sync_forward_assignment": "Send assignments to the tracker",
    "sync_status_forward": "Send resolve / unresolve to the tracker",
    "sync_comments": "Send comments to the tracker",
    "sync_reverse_assignment": "Apply the tracker's assignments",
    "sync_status_reverse": "Apply the tracker's status changes",
    "sync_comments_reverse": "Apply the tracker's comments",
}

#: What each toggle does, under its label.
HELP = {
    "sync_forward_assignment": "Assigning a group to a member assigns the linked"
    " issues to the tracker user with the same email (unassigning unassigns).",
    "sync_status_forward": "Resolving a group moves its linked issues to the"
    " status chosen below; unresolving moves them back.",
    "sync_comments": "Comments added to a group are added to its linked issues.",
    "sync_reverse_assignment": "Assigning a linked issue in the tracker assigns"
    " the group to the member with that user's email (if there is one).",
    "sync_status_reverse": "Moving a linked issue to a done status resolves the"
    " group; moving it out of done unresolves it.",
    "sync_comments_reverse": "Comments added in the tracker appear on the group.",
}


def enabled(config, flag: str) -> bool:
    return config.get(flag) is True


#: Organization config: per tracker project, the status ids that resolve or
#: unresolve a group, overriding the provider's own reading:
#: ``{project: {"resolve": [ids], "unresolve": [ids]}}``.
INBOUND_STATUS_MAPPING = "sync_status_reverse_mapping"


def inbound_resolution(config, event) -> bool | None:
    """Whether a tracker status change resolves (True) or unresolves (False)."""
    mapping = config.get(INBOUND_STATUS_MAPPING) or {}
    rule = mapping.get(event.project) if event.project is not None else None
    if not isinstance(rule, dict):
        return event.resolved
    if event.to_status in (rule.get("resolve") or []):
        return True
    if event.to_status in (rule.get("unresolve") or []):
        return False
    return None
