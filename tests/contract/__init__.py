"""The contract suites: every idempotency store and every dead-letter sink passes the same tests.

Stores: backends.py (the registry: how to add a backend), test_store.py (the claim rules),
test_pipeline.py (the same rules as a handler sees them), test_processes.py (races between
processes, a worker killed mid-event, fork), test_outage.py (a store that goes down mid-run).
Sinks: sinks.py and test_sink.py.
"""
