"""The upload pipeline on Google Cloud (deploy.sh deploys it with gcloud)."""
