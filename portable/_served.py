"""The source file functions-framework loads for ``portable serve`` (see portable._serve)."""

from portable._serve import ENTRY_NAME, view_from_env

portable_entry = view_from_env()
assert portable_entry.__name__ == ENTRY_NAME
