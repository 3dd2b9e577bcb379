"""trackbridge: an integration host for issue-tracker providers.

Plugins import what they need from here: ``from host import hookimpl``.
"""

from hookspecs import hookimpl

__all__ = ["hookimpl"]
