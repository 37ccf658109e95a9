"""The wallet's domain errors: each a problem+json type through the API's exception handler."""

from __future__ import annotations

# One 404 problem for the whole API; re-exported here for the wallet's services.
from core.errors import ConflictError
from core.errors import NotFoundError as NotFoundError


class InsufficientFunds(ConflictError):
    slug = "insufficient-funds"
    title = "Insufficient funds"


class OutOfStock(ConflictError):
    slug = "out-of-stock"
    title = "Out of stock"


class LimitReached(ConflictError):
    slug = "limit-reached"
    title = "Monthly limit reached"


class RewardUnavailable(ConflictError):
    slug = "reward-inactive"
    title = "Reward not available"


class InvalidTransition(ConflictError):
    slug = "invalid-transition"
    title = "Invalid redemption transition"


class LedgerKeyConflict(ConflictError):
    slug = "idempotency-key-reused"
    title = "Idempotency key reused for another movement"


class BalanceLimit(ConflictError):
    slug = "balance-limit"
    title = "Balance limit reached"
