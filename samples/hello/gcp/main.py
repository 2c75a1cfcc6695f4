"""The Google Cloud entries of the hello sample: the handler of samples/hello, unchanged.

- ``main``: a function with an event trigger (Eventarc: Cloud Storage uploads, or any
  CloudEvent), ``gcloud functions deploy --entry-point main --trigger-bucket ...``. Eventarc
  retries nothing unless the trigger has retries on, so a failure is dead-lettered at once.
- ``push``: an HTTP function behind a Pub/Sub push subscription with a dead-letter policy
  (``--entry-point push``). Pub/Sub numbers its deliveries there; on the policy's last attempt
  the pipeline dead-letters the event itself, with its error, before Pub/Sub would forward
  the bare message (which ``portable dlq`` reads too).

Both build their pipeline once per instance, at import, on the Firestore store and Pub/Sub
dead-letter topic that PORTABLE_STORE and PORTABLE_DLQ name (deploy.sh sets them). deploy.sh
copies this file to the root of the function's source, beside the packages it imports.
"""

from adapters import gcp
from samples.hello import app

MAX_DELIVERY_ATTEMPTS = 5
"""The push subscription's ``--max-delivery-attempts`` (deploy.sh): change both together."""

main = gcp.cloud_function(app)
push = gcp.push_handler(app, max_attempts=MAX_DELIVERY_ATTEMPTS)
