"""The audit trail: append-only events in a hash chain."""
