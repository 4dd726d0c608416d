"""The site's plugin pages for people who are not staff; each view parses, calls a service or selector, renders."""
