"""Server ids: PostgreSQL bigints."""

# The largest server id (PostgreSQL bigint): ids in bodies are checked against it, and a larger
# one in a path simply names nothing (404).
MAX_ID = 2**63 - 1
