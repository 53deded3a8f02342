"""The incidents REST API: /api/v1/orgs/<org>/incidents/, services/ and categories/."""
