"""Credentials: types, the encrypted store, the one door, and the faces that use them."""
