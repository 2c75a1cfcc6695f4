"""The Google Cloud entries of the order flow: the handler of samples/orders, unchanged.

- ``push``: an HTTP function behind a Pub/Sub push subscription on the orders topic, with a
  dead-letter policy (deploy.sh). Orders are published in the CloudEvents Pub/Sub binding
  (``gcp.publish``, or ``ce-*`` attributes); on the policy's last delivery attempt the pipeline
  dead-letters the order itself, with its error.
- ``main``: the same handler for an Eventarc Pub/Sub trigger
  (``gcloud functions deploy ... --entry-point main --trigger-topic orders``). Eventarc
  retries nothing unless the trigger has retries on, so a failure is dead-lettered at once.

Both build their pipeline once per instance, at import, on the Firestore store and Pub/Sub
dead-letter topic that PORTABLE_STORE and PORTABLE_DLQ name; accepted orders go where
ORDERS_PUBLISH_TO says. deploy.sh copies this file to the root of the function's source,
beside the packages it imports.
"""

from adapters import gcp
from samples.orders import app

MAX_DELIVERY_ATTEMPTS = 5
"""The push subscription's ``--max-delivery-attempts`` (deploy.sh): change both together."""

main = gcp.cloud_function(app)
push = gcp.push_handler(app, max_attempts=MAX_DELIVERY_ATTEMPTS)
