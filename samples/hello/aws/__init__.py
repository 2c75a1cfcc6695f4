"""The hello sample on AWS Lambda (template.yaml deploys it with SAM)."""
