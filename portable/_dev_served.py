"""The source file functions-framework loads for ``portable dev`` (see portable._dev_router)."""

from portable._dev_router import build

portable_dev = build()  # the name portable._dev_router.ENTRY_NAME gives functions-framework
