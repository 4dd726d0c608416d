"""The site's forms: the schema-generated credential form, the list's filters, and the share form."""
