"""Falcon resources: thin adapters from HTTP to the domain services."""
