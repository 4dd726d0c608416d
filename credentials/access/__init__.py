"""Time-bound access: credentials a group may discover, requests for use or view, approvals, and grants that end."""
