"""The plugins JSON API (DRF)."""
