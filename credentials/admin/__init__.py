"""The Django admin for credentials: types, credentials, and guardian's sharing pages; importing it registers them."""

from credentials.admin import credential, sharing, types  # noqa: F401  (each registers its admins)
