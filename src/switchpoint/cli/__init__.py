"""The `switchpoint` command line. Commands call the same services the server uses."""
