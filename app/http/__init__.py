"""HTTP routes and the conventions every route shares."""
