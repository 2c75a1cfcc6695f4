#!/usr/bin/env bash
# The order flow on Google Cloud (Cloud Run functions, 2nd gen), deployed with gcloud:
#
#   PROJECT=my-project samples/orders/gcp/deploy.sh          # from anywhere in the repository
#
# What it sets up:
#
#   $ORDERS topic --push subscription--> orders-push (push) --accepted--> ORDERS_PUBLISH_TO
#                 (dead-letter policy: 5 attempts)           ($ACCEPTED topic by default)
#   PORTABLE_STORE=firestore://$COLLECTION  (idempotency records, TTL policy)
#   PORTABLE_DLQ=pubsub://projects/$PROJECT/topics/$DEAD_LETTERS
#
# To publish the accepted orders to another cloud instead, set PUBLISH_TO (sqs://... or
# azqueue://...), give the function that cloud's settings and credentials in EXTRA_ENV
# (e.g. "AzureWebJobsStorage=<connection string>"; better, --set-secrets from Secret Manager),
# and add that cloud's SDK to requirements.txt (see samples/orders/README.md).
# Invalid orders are dead-lettered at once, with their error; so is a transient failure on the
# 5th delivery. Read and replay them with
#
#   portable dlq list --dlq pubsub://projects/$PROJECT/topics/$DEAD_LETTERS
#   portable dlq replay --all --dlq pubsub://projects/$PROJECT/topics/$DEAD_LETTERS
set -euo pipefail

PROJECT="${PROJECT:?set PROJECT to the Google Cloud project id}"
REGION="${REGION:-europe-west1}"
ORDERS="${ORDERS:-orders}"
ACCEPTED="${ACCEPTED:-orders-accepted}"
DEAD_LETTERS="${DEAD_LETTERS:-orders-dead-letters}"
COLLECTION="${COLLECTION:-orders-idempotency}"
PUBLISH_TO="${PUBLISH_TO:-pubsub://projects/$PROJECT/topics/$ACCEPTED}"
MAX_DELIVERY_ATTEMPTS=5  # = MAX_DELIVERY_ATTEMPTS in main.py
HERE="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=../../gcp_deploy.sh
source "$HERE/../../gcp_deploy.sh"  # the steps the samples share; gcloud works on $PROJECT

# -- topics, the dead-letter sink's subscription, the store, the function's source -----------
gcloud pubsub topics create "$ORDERS" "$ACCEPTED" "$DEAD_LETTERS"
create_dead_letter_subscription
create_store
stage_source "$HERE"

# -- the function: it may publish accepted orders to $ACCEPTED -------------------------------
deploy_function orders-push push --trigger-http --no-allow-unauthenticated \
  --set-env-vars "$PORTABLE_SETTINGS,ORDERS_PUBLISH_TO=$PUBLISH_TO${EXTRA_ENV:+,$EXTRA_ENV}"
grant_store_and_sink "$RUNTIME"
gcloud pubsub topics add-iam-policy-binding "$ACCEPTED" --member "$RUNTIME" \
  --role roles/pubsub.publisher

# -- the push subscription, with the dead-letter policy --------------------------------------
create_push_subscription orders-push "$ORDERS" 60
NUMBER="$(project_number)"
grant_pubsub_agent orders-push "$NUMBER"

echo "Place an order:"
echo "  gcloud pubsub topics publish $ORDERS --message '{\"order_id\": \"o-1\", \"items\": [{\"sku\": \"tea\", \"quantity\": 2, \"price\": 2.5}]}' \\"
echo "    --attribute ce-specversion=1.0,ce-id=o-1,ce-source=/shop,ce-type=com.example.order.placed,content-type=application/json"
