#!/usr/bin/env bash
# The hello sample on Google Cloud (Cloud Run functions, 2nd gen), deployed with gcloud:
#
#   PROJECT=my-project samples/hello/gcp/deploy.sh           # from anywhere in the repository
#   BUCKET=my-uploads PROJECT=my-project samples/hello/gcp/deploy.sh   # also Cloud Storage uploads
#
# What it sets up:
#
#   $EVENTS topic --push subscription (dead-letter policy: 5 attempts)--> hello-push (push)
#   gs://$BUCKET  --Eventarc-->                                           hello-uploads (main)
#   both functions: PORTABLE_STORE=firestore://$COLLECTION  (idempotency records, TTL policy)
#                   PORTABLE_DLQ=pubsub://projects/$PROJECT/topics/$DEAD_LETTERS
#
# The dead-letter topic takes both kinds of dead letters: the framework's own (bad input,
# permanent errors, and transient ones on the 5th delivery, each with its error) and whatever
# Pub/Sub forwards itself under the policy. Read and replay them with
#
#   portable dlq list --dlq pubsub://projects/$PROJECT/topics/$DEAD_LETTERS
#   portable dlq replay --all --dlq pubsub://projects/$PROJECT/topics/$DEAD_LETTERS
#
# (a message Pub/Sub forwarded goes back to $EVENTS; a framework letter runs its handler again).
# The sink reads through the subscription $DEAD_LETTERS-portable-dlq, created here: a topic
# keeps no message for a subscription that did not exist when it was published. A subscription
# keeps messages 7 days at most: act on dead letters within a week.
set -euo pipefail

PROJECT="${PROJECT:?set PROJECT to the Google Cloud project id}"
REGION="${REGION:-europe-west1}"
EVENTS="${EVENTS:-hello-events}"
DEAD_LETTERS="${DEAD_LETTERS:-hello-dead-letters}"
COLLECTION="${COLLECTION:-hello-idempotency}"
MAX_DELIVERY_ATTEMPTS=5  # = MAX_DELIVERY_ATTEMPTS in main.py
HERE="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=../../gcp_deploy.sh
source "$HERE/../../gcp_deploy.sh"  # the steps the samples share; gcloud works on $PROJECT

# -- topics, the dead-letter sink's subscription, the store, the functions' source ----------
gcloud pubsub topics create "$EVENTS" "$DEAD_LETTERS"
create_dead_letter_subscription
create_store
stage_source "$HERE"

# -- push: Pub/Sub push subscription with a dead-letter policy -------------------------------
deploy_function hello-push push --set-env-vars "$PORTABLE_SETTINGS" \
  --trigger-http --no-allow-unauthenticated
grant_store_and_sink "$RUNTIME"
create_push_subscription hello-push "$EVENTS" 60
NUMBER="$(project_number)"
grant_pubsub_agent hello-push "$NUMBER"

# -- main: Cloud Storage uploads through Eventarc (optional) ---------------------------------
if [[ -n "${BUCKET:-}" ]]; then
  deploy_function hello-uploads main --set-env-vars "$PORTABLE_SETTINGS" \
    --trigger-bucket "$BUCKET"
  grant_store_and_sink "$RUNTIME"
fi

echo "Publish an order:"
echo "  gcloud pubsub topics publish $EVENTS --message '{\"order_id\": \"o-1\", \"items\": [{\"price\": 2.5}]}' \\"
echo "    --attribute ce-specversion=1.0,ce-id=o-1,ce-source=/orders,ce-type=com.example.order.created,content-type=application/json"
