"""Keys and what they protect: the key ring, sealing a row, the rows per key, rotation, export and import."""
