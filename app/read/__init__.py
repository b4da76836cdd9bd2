"""Every query of a read model, with the row → API shape."""
