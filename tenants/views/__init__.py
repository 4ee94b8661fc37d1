"""Page views, one module per noun. ``tenants.urls`` imports them from their modules."""
