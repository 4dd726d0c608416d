"""The notifications API: one's subscriptions, webhook endpoints and their delivery logs."""
