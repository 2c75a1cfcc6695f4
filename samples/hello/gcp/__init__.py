"""The hello sample on Google Cloud (deploy.sh deploys it with gcloud)."""
