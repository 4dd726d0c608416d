"""Webhooks that follow the Standard Webhooks specification: endpoints, their sealed secrets, signed deliveries."""
