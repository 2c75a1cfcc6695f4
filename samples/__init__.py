"""Handlers written once, with the thin deployment wrappers for each cloud."""
