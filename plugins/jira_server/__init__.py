"""The Jira Server / Data Center provider."""
