"""The block types the stock clients expect a server to have (slug, name).

The clients look a type up by slug before saving a block (every 2.7 flow run stores its
result-storage block this way) and only create it when the lookup answers 404. Seeded
types keep concurrent first runs from racing to create the same type (the losers would get
409, which the 2.7 client does not survive). Only identifiers are seeded: each client fills
in the descriptive fields with its own PATCH on first use, and posts the schema it uses.
"""

from __future__ import annotations

SYSTEM_BLOCK_TYPES: tuple[tuple[str, str], ...] = (
    ("azure", "Azure"),
    ("custom-webhook", "Custom Webhook"),
    ("date-time", "Date Time"),
    ("discord-webhook", "Discord Webhook"),
    ("docker-container", "Docker Container"),
    ("docker-registry", "Docker Registry"),
    ("gcs", "GCS"),
    ("github", "GitHub"),
    ("json", "JSON"),
    ("kubernetes-cluster-config", "Kubernetes Cluster Config"),
    ("kubernetes-job", "Kubernetes Job"),
    ("local-file-system", "Local File System"),
    ("mattermost-webhook", "Mattermost Webhook"),
    ("ms-teams-webhook", "Microsoft Teams Webhook"),
    ("opsgenie-webhook", "Opsgenie Webhook"),
    ("pager-duty-webhook", "Pager Duty Webhook"),
    ("process", "Process"),
    ("remote-file-system", "Remote File System"),
    ("s3", "S3"),
    ("secret", "Secret"),
    ("sendgrid-email", "Sendgrid Email"),
    ("slack-webhook", "Slack Webhook"),
    ("smb", "SMB"),
    ("string", "String"),
    ("twilio-sms", "Twilio SMS"),
    ("webhook", "Webhook"),
)
