"""A credential's secret history: each sealed payload kept as a numbered version, listed, rolled back, destroyed."""
