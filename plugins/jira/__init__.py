"""The Jira Cloud provider (entry point ``jira``): the Atlassian Connect
app's endpoints (deployable as Connect-on-Forge) and its tenants."""
