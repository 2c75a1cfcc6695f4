"""The upload pipeline on AWS Lambda (template.yaml deploys it with SAM)."""
