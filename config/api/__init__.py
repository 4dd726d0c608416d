"""What every endpoint of the JSON API shares: error bodies, pagination, throttles."""
