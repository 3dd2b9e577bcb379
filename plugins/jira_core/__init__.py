"""What both Jira providers share (Server / Data Center and Cloud): reading
webhook bodies into the host's events, deciding which deliveries to keep.
Each provider keeps only what differs: how it authenticates, how it asks
its Jira a question (users by name or by accountId, wiki text or ADF)."""
