"""Tracker providers that ship with trackbridge (each loaded by entry point)."""
