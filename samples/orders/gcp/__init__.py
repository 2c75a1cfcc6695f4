"""The order flow on Google Cloud (deploy.sh deploys it with gcloud)."""
