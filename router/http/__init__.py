"""The HTTP surface: the app, its endpoints, authentication, request validation and responses."""
