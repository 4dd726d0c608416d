"""The Django admin for credentials: types, credentials, sharing and access requests; importing it registers them."""

from credentials.admin import access, credential, sharing, types  # noqa: F401  (each registers its admins)
