"""Provider adapters: `from adapters import aws, azure, gcp`."""
