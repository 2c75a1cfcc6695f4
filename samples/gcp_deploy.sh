# The steps that the samples' Google Cloud deployments share, for samples/*/gcp/deploy.sh to
# source (it is not a script to run). The deploy.sh sets PROJECT, REGION, DEAD_LETTERS,
# COLLECTION and MAX_DELIVERY_ATTEMPTS first, then calls the functions below in its own order
# around its own steps. Sourcing this file:
#   - exports CLOUDSDK_CORE_PROJECT, so every gcloud command works on $PROJECT;
#   - sets PORTABLE_SETTINGS, the --set-env-vars that name the store and the sink
#     (PORTABLE_STORE=firestore://$COLLECTION, PORTABLE_DLQ=pubsub://.../topics/$DEAD_LETTERS);
#   - makes WORK, a temporary folder (the staged source goes in $WORK/source), removed on exit.
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  echo "$0 is sourced by samples/*/gcp/deploy.sh: run one of those" >&2
  exit 2
fi
: "${PROJECT:?}" "${REGION:?}" "${DEAD_LETTERS:?}" "${COLLECTION:?}" "${MAX_DELIVERY_ATTEMPTS:?}"

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CLOUDSDK_CORE_PROJECT="$PROJECT"
PORTABLE_SETTINGS="PORTABLE_STORE=firestore://$COLLECTION"
PORTABLE_SETTINGS+=",PORTABLE_DLQ=pubsub://projects/$PROJECT/topics/$DEAD_LETTERS"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

# Creates $DEAD_LETTERS-portable-dlq, the subscription the sink reads $DEAD_LETTERS through.
create_dead_letter_subscription() {
  gcloud pubsub subscriptions create "$DEAD_LETTERS-portable-dlq" --topic "$DEAD_LETTERS" \
    --ack-deadline 60 --message-retention-duration 7d --expiration-period never
}

# Creates Firestore (native mode, once per project) and the TTL policy on the store's records.
create_store() {
  gcloud firestore databases create --location "$REGION" || echo "(keeping the existing database)"
  gcloud firestore fields ttls update purge_at --collection-group "$COLLECTION" --enable-ttl
}

# Stages $WORK/source: main.py and requirements.txt of folder $1 at its root, beside the packages.
stage_source() {
  local source="$WORK/source"
  mkdir "$source"
  cp "$1/main.py" "$1/requirements.txt" "$source/"
  cp -r "$REPO/portable" "$REPO/adapters" "$REPO/samples" "$source/"
  find "$source" -name __pycache__ -prune -exec rm -rf {} +
}

# Deploys function $1 (entry point $2, further flags after) from $WORK/source; sets RUNTIME.
deploy_function() {
  local name="$1" entry="$2"
  shift 2
  gcloud functions deploy "$name" --gen2 --runtime python311 --region "$REGION" \
    --source "$WORK/source" --entry-point "$entry" "$@"
  RUNTIME="serviceAccount:$(gcloud functions describe "$name" --gen2 --region "$REGION" \
    --format 'value(serviceConfig.serviceAccountEmail)')"
}

# Lets member $1 use the store and the sink (publish letters, check the subscription exists).
grant_store_and_sink() {
  gcloud projects add-iam-policy-binding "$PROJECT" --condition None --member "$1" \
    --role roles/datastore.user
  gcloud pubsub topics add-iam-policy-binding "$DEAD_LETTERS" --member "$1" \
    --role roles/pubsub.publisher
  gcloud pubsub subscriptions add-iam-policy-binding "$DEAD_LETTERS-portable-dlq" \
    --member "$1" --role roles/pubsub.viewer
}

# Pushes topic $2 to function $1 (ack deadline $3 s, the dead-letter policy) as ${1%-push}-pusher.
create_push_subscription() {
  local name="$1" topic="$2" ack_deadline="$3" url
  local pusher="${name%-push}-pusher"
  gcloud iam service-accounts create "$pusher" --display-name "Pub/Sub push to $name" \
    || echo "(keeping the existing service account)"
  pusher+="@$PROJECT.iam.gserviceaccount.com"
  gcloud functions add-invoker-policy-binding "$name" --region "$REGION" \
    --member "serviceAccount:$pusher"
  url="$(gcloud functions describe "$name" --gen2 --region "$REGION" \
    --format 'value(serviceConfig.uri)')"
  gcloud pubsub subscriptions create "$name" --topic "$topic" \
    --push-endpoint "$url" --push-auth-service-account "$pusher" --ack-deadline "$ack_deadline" \
    --dead-letter-topic "$DEAD_LETTERS" --max-delivery-attempts "$MAX_DELIVERY_ATTEMPTS" \
    --min-retry-delay 10s --max-retry-delay 600s
}

# Prints the project's number, which names its service agents.
project_number() {
  gcloud projects describe "$PROJECT" --format 'value(projectNumber)'
}

# Lets the Pub/Sub agent of project number $2 dead-letter from subscription $1 (publish, ack).
grant_pubsub_agent() {
  local agent="serviceAccount:service-$2@gcp-sa-pubsub.iam.gserviceaccount.com"
  gcloud pubsub topics add-iam-policy-binding "$DEAD_LETTERS" --member "$agent" \
    --role roles/pubsub.publisher
  gcloud pubsub subscriptions add-iam-policy-binding "$1" --member "$agent" \
    --role roles/pubsub.subscriber
}
