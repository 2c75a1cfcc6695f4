"""The order flow on AWS Lambda (template.yaml deploys it with SAM)."""
