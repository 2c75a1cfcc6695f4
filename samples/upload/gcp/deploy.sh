#!/usr/bin/env bash
# The upload pipeline on Google Cloud (Cloud Run functions, 2nd gen), deployed with gcloud:
#
#   BUCKET=my-uploads PROJECT=my-project samples/upload/gcp/deploy.sh   # from anywhere in the repo
#
# What it sets up:
#
#   gs://$BUCKET --OBJECT_FINALIZE--> $UPLOADS topic --push subscription--> upload-push (push)
#        ^                             (dead-letter policy: 5 attempts)         |
#        +------------------------ <name>.manifest.json ------------------------+
#   PORTABLE_STORE=firestore://$COLLECTION  (idempotency records, TTL policy)
#   PORTABLE_DLQ=pubsub://projects/$PROJECT/topics/$DEAD_LETTERS
#
# The bucket keeps noncurrent generations for 7 days, so that a redelivered notification still
# reads the generation it announced. Manifests are notified too; the handler skips them.
# Empty files and other permanent failures are dead-lettered at once, with their error; so is
# a transient failure on the 5th delivery. Read and replay them with
#
#   portable dlq list --dlq pubsub://projects/$PROJECT/topics/$DEAD_LETTERS
#   portable dlq replay --all --dlq pubsub://projects/$PROJECT/topics/$DEAD_LETTERS
set -euo pipefail

PROJECT="${PROJECT:?set PROJECT to the Google Cloud project id}"
BUCKET="${BUCKET:?set BUCKET to the uploads bucket (created if missing)}"
REGION="${REGION:-europe-west1}"
UPLOADS="${UPLOADS:-upload-notifications}"
DEAD_LETTERS="${DEAD_LETTERS:-upload-dead-letters}"
COLLECTION="${COLLECTION:-upload-idempotency}"
MAX_DELIVERY_ATTEMPTS=5  # = MAX_DELIVERY_ATTEMPTS in main.py
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/../../.." && pwd)"
export CLOUDSDK_CORE_PROJECT="$PROJECT"
NUMBER="$(gcloud projects describe "$PROJECT" --format 'value(projectNumber)')"

# -- topics and the dead-letter sink's subscription ---------------------------------------
gcloud pubsub topics create "$UPLOADS" "$DEAD_LETTERS"
gcloud pubsub subscriptions create "$DEAD_LETTERS-portable-dlq" --topic "$DEAD_LETTERS" \
  --ack-deadline 60 --message-retention-duration 7d --expiration-period never

# -- the bucket: versioned, its finalize notifications to $UPLOADS ---------------------------
STAGE="$(mktemp -d)"
trap 'rm -rf "$STAGE"' EXIT
gcloud storage buckets create "gs://$BUCKET" --location "$REGION" \
  || echo "(keeping the existing bucket)"
echo '{"rule": [{"action": {"type": "Delete"}, "condition": {"daysSinceNoncurrentTime": 7}}]}' \
  > "$STAGE/lifecycle.json"
gcloud storage buckets update "gs://$BUCKET" --versioning --lifecycle-file "$STAGE/lifecycle.json"
gcloud pubsub topics add-iam-policy-binding "$UPLOADS" --role roles/pubsub.publisher \
  --member "serviceAccount:service-$NUMBER@gs-project-accounts.iam.gserviceaccount.com"
gcloud storage buckets notifications create "gs://$BUCKET" --topic "$UPLOADS" \
  --event-types OBJECT_FINALIZE --payload-format json

# -- Firestore (native mode, once per project) and the TTL policy on the store's records -----
gcloud firestore databases create --location "$REGION" || echo "(keeping the existing database)"
gcloud firestore fields ttls update purge_at --collection-group "$COLLECTION" --enable-ttl

# -- the function: main.py at the root of its source, beside the packages it imports --------
mkdir "$STAGE/source"
cp "$HERE/main.py" "$HERE/requirements.txt" "$STAGE/source/"
cp -r "$REPO/portable" "$REPO/adapters" "$REPO/samples" "$STAGE/source/"
find "$STAGE/source" -name __pycache__ -prune -exec rm -rf {} +
gcloud functions deploy upload-push --gen2 --runtime python311 --region "$REGION" \
  --source "$STAGE/source" --entry-point push --trigger-http --no-allow-unauthenticated \
  --timeout 540s --memory 512Mi \
  --set-env-vars "PORTABLE_STORE=firestore://$COLLECTION,PORTABLE_DLQ=pubsub://projects/$PROJECT/topics/$DEAD_LETTERS"
RUNTIME="serviceAccount:$(gcloud functions describe upload-push --gen2 --region "$REGION" \
  --format 'value(serviceConfig.serviceAccountEmail)')"
# Reads uploads and writes manifests; the store reads and writes Firestore; the sink publishes
# letters and, once per instance, checks that its subscription exists.
gcloud storage buckets add-iam-policy-binding "gs://$BUCKET" --member "$RUNTIME" \
  --role roles/storage.objectUser
gcloud projects add-iam-policy-binding "$PROJECT" --condition None --member "$RUNTIME" \
  --role roles/datastore.user
gcloud pubsub topics add-iam-policy-binding "$DEAD_LETTERS" --member "$RUNTIME" \
  --role roles/pubsub.publisher
gcloud pubsub subscriptions add-iam-policy-binding "$DEAD_LETTERS-portable-dlq" \
  --member "$RUNTIME" --role roles/pubsub.viewer

# -- the push subscription, with the dead-letter policy --------------------------------------
gcloud iam service-accounts create upload-pusher --display-name "Pub/Sub push to upload-push" \
  || echo "(keeping the existing service account)"
PUSHER="upload-pusher@$PROJECT.iam.gserviceaccount.com"
gcloud functions add-invoker-policy-binding upload-push --region "$REGION" \
  --member "serviceAccount:$PUSHER"
URL="$(gcloud functions describe upload-push --gen2 --region "$REGION" \
  --format 'value(serviceConfig.uri)')"
gcloud pubsub subscriptions create upload-push --topic "$UPLOADS" \
  --push-endpoint "$URL" --push-auth-service-account "$PUSHER" --ack-deadline 600 \
  --dead-letter-topic "$DEAD_LETTERS" --max-delivery-attempts "$MAX_DELIVERY_ATTEMPTS" \
  --min-retry-delay 10s --max-retry-delay 600s

# Pub/Sub's service agent forwards under the policy: it publishes to the dead-letter topic and
# acknowledges on the source subscription.
AGENT="serviceAccount:service-$NUMBER@gcp-sa-pubsub.iam.gserviceaccount.com"
gcloud pubsub topics add-iam-policy-binding "$DEAD_LETTERS" --member "$AGENT" \
  --role roles/pubsub.publisher
gcloud pubsub subscriptions add-iam-policy-binding upload-push --member "$AGENT" \
  --role roles/pubsub.subscriber

echo "Upload a file:  gcloud storage cp README.md gs://$BUCKET/"
echo "Its manifest:   gcloud storage cat gs://$BUCKET/README.md.manifest.json"
