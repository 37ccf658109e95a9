"""The audit log: who changed the game's configuration, granted coins, adjusted points or decided
a redemption, when, and what changed (before → after). Append-only.

It sits in the accounts layer because the services that record into it live in every layer
above (kpis' catalogue, gamify's rules, wallet and contests)."""
