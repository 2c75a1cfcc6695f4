"""The source file functions-framework loads for ``portable serve`` (see portable._serve)."""

from portable._serve import view_from_env

portable_entry = view_from_env()  # the name portable._serve.ENTRY_NAME gives functions-framework
