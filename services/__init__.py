"""Domain logic with no HTTP in it: identity, authentication, profiles, and later colour rules."""
