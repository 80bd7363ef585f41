"""The plugin's quick start: one workflow behind the REST API."""
