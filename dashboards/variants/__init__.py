"""The "Compare variants" page: page, data, view and actions side by side."""
