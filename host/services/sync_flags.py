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


def enabled(config, flag: str) -> bool:
    return config.get(flag) is True
