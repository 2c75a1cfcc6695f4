"""The Google Cloud entries of the upload pipeline: the handler of samples/upload, unchanged.

- ``push``: an HTTP function behind a Pub/Sub push subscription that carries the bucket's
  OBJECT_FINALIZE notifications, with a dead-letter policy (deploy.sh sets it all up). On the
  policy's last delivery attempt the pipeline dead-letters the upload itself, with its error.
- ``main``: the same handler for an Eventarc trigger on the bucket
  (``gcloud functions deploy ... --entry-point main --trigger-bucket BUCKET``). Eventarc
  retries nothing unless the trigger has retries on, so a failure is dead-lettered at once.

Both build their pipeline once per instance, at import, on the Firestore store and Pub/Sub
dead-letter topic that PORTABLE_STORE and PORTABLE_DLQ name. Objects are read (the
generation each notification announced) and manifests written with the function's service
account. deploy.sh copies this file to the root of the function's source, beside the packages
it imports.
"""

from adapters import gcp
from samples.upload import app

MAX_DELIVERY_ATTEMPTS = 5
"""The push subscription's ``--max-delivery-attempts`` (deploy.sh): change both together."""

main = gcp.cloud_function(app)
push = gcp.push_handler(app, max_attempts=MAX_DELIVERY_ATTEMPTS)
