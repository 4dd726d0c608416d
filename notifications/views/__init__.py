"""The site's notification pages: one's subscriptions, and the webhook endpoints one manages."""
