"""The Administration page: users and API tokens, for admins."""
