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
# shellcheck source=../../gcp_deploy.sh
source "$HERE/../../gcp_deploy.sh"  # the steps the samples share; gcloud works on $PROJECT
NUMBER="$(project_number)"

# -- topics and the dead-letter sink's subscription ---------------------------------------
gcloud pubsub topics create "$UPLOADS" "$DEAD_LETTERS"
create_dead_letter_subscription

# -- the bucket: versioned, its finalize notifications to $UPLOADS ---------------------------
gcloud storage buckets create "gs://$BUCKET" --location "$REGION" \
  || echo "(keeping the existing bucket)"
echo '{"rule": [{"action": {"type": "Delete"}, "condition": {"daysSinceNoncurrentTime": 7}}]}' \
  > "$WORK/lifecycle.json"
gcloud storage buckets update "gs://$BUCKET" --versioning --lifecycle-file "$WORK/lifecycle.json"
gcloud pubsub topics add-iam-policy-binding "$UPLOADS" --role roles/pubsub.publisher \
  --member "serviceAccount:service-$NUMBER@gs-project-accounts.iam.gserviceaccount.com"
gcloud storage buckets notifications create "gs://$BUCKET" --topic "$UPLOADS" \
  --event-types OBJECT_FINALIZE --payload-format json

# -- the store and the function: it reads uploads and writes manifests -----------------------
create_store
stage_source "$HERE"
deploy_function upload-push push --trigger-http --no-allow-unauthenticated \
  --timeout 540s --memory 512Mi --set-env-vars "$PORTABLE_SETTINGS"
gcloud storage buckets add-iam-policy-binding "gs://$BUCKET" --member "$RUNTIME" \
  --role roles/storage.objectUser
grant_store_and_sink "$RUNTIME"

# -- the push subscription, with the dead-letter policy (acks wait out the 540 s timeout) ----
create_push_subscription upload-push "$UPLOADS" 600
grant_pubsub_agent upload-push "$NUMBER"

echo "Upload a file:  gcloud storage cp README.md gs://$BUCKET/"
echo "Its manifest:   gcloud storage cat gs://$BUCKET/README.md.manifest.json"
