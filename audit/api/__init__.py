"""The audit trail as the API shows it."""
