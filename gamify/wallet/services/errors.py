"""The wallet's domain errors: each a problem+json type through the API's exception handler."""

from __future__ import annotations

# One 404 problem for the whole API; re-exported here for the wallet's services.
from accounts.api.problems import NotFoundProblem as NotFoundProblem
from accounts.api.problems import Problem


class InsufficientFunds(Problem):
    status_code = 409
    slug = "insufficient-funds"
    title = "Insufficient funds"


class OutOfStock(Problem):
    status_code = 409
    slug = "out-of-stock"
    title = "Out of stock"


class LimitReached(Problem):
    status_code = 409
    slug = "limit-reached"
    title = "Monthly limit reached"


class RewardUnavailable(Problem):
    status_code = 409
    slug = "reward-inactive"
    title = "Reward not available"


class InvalidTransition(Problem):
    status_code = 409
    slug = "invalid-transition"
    title = "Invalid redemption transition"


class LedgerKeyConflict(Problem):
    status_code = 409
    slug = "idempotency-key-reused"
    title = "Idempotency key reused for another movement"


class BalanceLimit(Problem):
    status_code = 409
    slug = "balance-limit"
    title = "Balance limit reached"
