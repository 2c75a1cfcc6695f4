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
REPO="$(cd "$HERE/../../.." && pwd)"
export CLOUDSDK_CORE_PROJECT="$PROJECT"

# -- topics and the dead-letter sink's subscription ---------------------------------------
gcloud pubsub topics create "$EVENTS" "$DEAD_LETTERS"
gcloud pubsub subscriptions create "$DEAD_LETTERS-portable-dlq" --topic "$DEAD_LETTERS" \
  --ack-deadline 60 --message-retention-duration 7d --expiration-period never

# -- Firestore (native mode, once per project) and the TTL policy on the store's records -----
gcloud firestore databases create --location "$REGION" || echo "(keeping the existing database)"
gcloud firestore fields ttls update purge_at --collection-group "$COLLECTION" --enable-ttl

# -- the functions' source: main.py at its root, beside the packages it imports -------------
STAGE="$(mktemp -d)"
trap 'rm -rf "$STAGE"' EXIT
cp "$HERE/main.py" "$HERE/requirements.txt" "$STAGE/"
cp -r "$REPO/portable" "$REPO/adapters" "$REPO/samples" "$STAGE/"
find "$STAGE" -name __pycache__ -prune -exec rm -rf {} +

SETTINGS="PORTABLE_STORE=firestore://$COLLECTION"
SETTINGS+=",PORTABLE_DLQ=pubsub://projects/$PROJECT/topics/$DEAD_LETTERS"
deploy() {  # name entry-point trigger-flags...
  local name="$1" entry="$2"
  shift 2
  gcloud functions deploy "$name" --gen2 --runtime python311 --region "$REGION" \
    --source "$STAGE" --entry-point "$entry" --set-env-vars "$SETTINGS" "$@"
  local runtime
  runtime="$(gcloud functions describe "$name" --gen2 --region "$REGION" \
    --format 'value(serviceConfig.serviceAccountEmail)')"
  # The store reads and writes Firestore; the sink publishes letters and, once per
  # instance, checks that its subscription exists.
  gcloud projects add-iam-policy-binding "$PROJECT" --condition None \
    --member "serviceAccount:$runtime" --role roles/datastore.user
  gcloud pubsub topics add-iam-policy-binding "$DEAD_LETTERS" \
    --member "serviceAccount:$runtime" --role roles/pubsub.publisher
  gcloud pubsub subscriptions add-iam-policy-binding "$DEAD_LETTERS-portable-dlq" \
    --member "serviceAccount:$runtime" --role roles/pubsub.viewer
}

# -- push: Pub/Sub push subscription with a dead-letter policy -------------------------------
deploy hello-push push --trigger-http --no-allow-unauthenticated
gcloud iam service-accounts create hello-pusher --display-name "Pub/Sub push to hello-push" \
  || echo "(keeping the existing service account)"
PUSHER="hello-pusher@$PROJECT.iam.gserviceaccount.com"
gcloud functions add-invoker-policy-binding hello-push --region "$REGION" \
  --member "serviceAccount:$PUSHER"
URL="$(gcloud functions describe hello-push --gen2 --region "$REGION" \
  --format 'value(serviceConfig.uri)')"
gcloud pubsub subscriptions create hello-push --topic "$EVENTS" \
  --push-endpoint "$URL" --push-auth-service-account "$PUSHER" --ack-deadline 60 \
  --dead-letter-topic "$DEAD_LETTERS" --max-delivery-attempts "$MAX_DELIVERY_ATTEMPTS" \
  --min-retry-delay 10s --max-retry-delay 600s

# Pub/Sub's service agent forwards under the policy: it publishes to the dead-letter topic and
# acknowledges on the source subscription.
NUMBER="$(gcloud projects describe "$PROJECT" --format 'value(projectNumber)')"
AGENT="serviceAccount:service-$NUMBER@gcp-sa-pubsub.iam.gserviceaccount.com"
gcloud pubsub topics add-iam-policy-binding "$DEAD_LETTERS" \
  --member "$AGENT" --role roles/pubsub.publisher
gcloud pubsub subscriptions add-iam-policy-binding hello-push \
  --member "$AGENT" --role roles/pubsub.subscriber

# -- main: Cloud Storage uploads through Eventarc (optional) ---------------------------------
if [[ -n "${BUCKET:-}" ]]; then
  deploy hello-uploads main --trigger-bucket "$BUCKET"
fi

echo "Publish an order:"
echo "  gcloud pubsub topics publish $EVENTS --message '{\"order_id\": \"o-1\", \"items\": [{\"price\": 2.5}]}' \\"
echo "    --attribute ce-specversion=1.0,ce-id=o-1,ce-source=/orders,ce-type=com.example.order.created,content-type=application/json"
