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
REPO="$(cd "$HERE/../../.." && pwd)"
export CLOUDSDK_CORE_PROJECT="$PROJECT"

# -- topics and the dead-letter sink's subscription ---------------------------------------
gcloud pubsub topics create "$ORDERS" "$ACCEPTED" "$DEAD_LETTERS"
gcloud pubsub subscriptions create "$DEAD_LETTERS-portable-dlq" --topic "$DEAD_LETTERS" \
  --ack-deadline 60 --message-retention-duration 7d --expiration-period never

# -- Firestore (native mode, once per project) and the TTL policy on the store's records -----
gcloud firestore databases create --location "$REGION" || echo "(keeping the existing database)"
gcloud firestore fields ttls update purge_at --collection-group "$COLLECTION" --enable-ttl

# -- the function: main.py at the root of its source, beside the packages it imports --------
STAGE="$(mktemp -d)"
trap 'rm -rf "$STAGE"' EXIT
cp "$HERE/main.py" "$HERE/requirements.txt" "$STAGE/"
cp -r "$REPO/portable" "$REPO/adapters" "$REPO/samples" "$STAGE/"
find "$STAGE" -name __pycache__ -prune -exec rm -rf {} +
SETTINGS="PORTABLE_STORE=firestore://$COLLECTION"
SETTINGS+=",PORTABLE_DLQ=pubsub://projects/$PROJECT/topics/$DEAD_LETTERS"
SETTINGS+=",ORDERS_PUBLISH_TO=$PUBLISH_TO${EXTRA_ENV:+,$EXTRA_ENV}"
gcloud functions deploy orders-push --gen2 --runtime python311 --region "$REGION" \
  --source "$STAGE" --entry-point push --trigger-http --no-allow-unauthenticated \
  --set-env-vars "$SETTINGS"
RUNTIME="serviceAccount:$(gcloud functions describe orders-push --gen2 --region "$REGION" \
  --format 'value(serviceConfig.serviceAccountEmail)')"
# The store reads and writes Firestore; the sink publishes letters and, once per instance,
# checks that its subscription exists; accepted orders are published to $ACCEPTED.
gcloud projects add-iam-policy-binding "$PROJECT" --condition None --member "$RUNTIME" \
  --role roles/datastore.user
gcloud pubsub topics add-iam-policy-binding "$DEAD_LETTERS" --member "$RUNTIME" \
  --role roles/pubsub.publisher
gcloud pubsub subscriptions add-iam-policy-binding "$DEAD_LETTERS-portable-dlq" \
  --member "$RUNTIME" --role roles/pubsub.viewer
gcloud pubsub topics add-iam-policy-binding "$ACCEPTED" --member "$RUNTIME" \
  --role roles/pubsub.publisher

# -- the push subscription, with the dead-letter policy --------------------------------------
gcloud iam service-accounts create orders-pusher --display-name "Pub/Sub push to orders-push" \
  || echo "(keeping the existing service account)"
PUSHER="orders-pusher@$PROJECT.iam.gserviceaccount.com"
gcloud functions add-invoker-policy-binding orders-push --region "$REGION" \
  --member "serviceAccount:$PUSHER"
URL="$(gcloud functions describe orders-push --gen2 --region "$REGION" \
  --format 'value(serviceConfig.uri)')"
gcloud pubsub subscriptions create orders-push --topic "$ORDERS" \
  --push-endpoint "$URL" --push-auth-service-account "$PUSHER" --ack-deadline 60 \
  --dead-letter-topic "$DEAD_LETTERS" --max-delivery-attempts "$MAX_DELIVERY_ATTEMPTS" \
  --min-retry-delay 10s --max-retry-delay 600s

# Pub/Sub's service agent forwards under the policy: it publishes to the dead-letter topic and
# acknowledges on the source subscription.
NUMBER="$(gcloud projects describe "$PROJECT" --format 'value(projectNumber)')"
AGENT="serviceAccount:service-$NUMBER@gcp-sa-pubsub.iam.gserviceaccount.com"
gcloud pubsub topics add-iam-policy-binding "$DEAD_LETTERS" --member "$AGENT" \
  --role roles/pubsub.publisher
gcloud pubsub subscriptions add-iam-policy-binding orders-push --member "$AGENT" \
  --role roles/pubsub.subscriber

echo "Place an order:"
echo "  gcloud pubsub topics publish $ORDERS --message '{\"order_id\": \"o-1\", \"items\": [{\"sku\": \"tea\", \"quantity\": 2, \"price\": 2.5}]}' \\"
echo "    --attribute ce-specversion=1.0,ce-id=o-1,ce-source=/shop,ce-type=com.example.order.placed,content-type=application/json"
