"""Writes of the wallet: moving coins, the rewards catalogue, redemptions, conversions.

Every coin that moves goes through `ledger._move` (via `wallet_credit` or `wallet_debit`),
which locks the agent's wallet row, re-checks the idempotency key under that lock, and writes
the ledger entry and the new balance in one transaction. On PostgreSQL the lock is
`SELECT … FOR UPDATE`; on SQLite, whose transactions here all begin IMMEDIATE, the database
write lock serializes writers. Lock order, everywhere: redemption row → wallet → reward.
Nothing takes them in another order, so concurrent requests queue instead of deadlocking.

Other apps import from here: `wallet_credit`, `wallet_debit` (badge and contest prizes),
`points_convert` (period finalization).
"""

from gamify.wallet.services.catalogue import (
    REWARD_FIELDS,
    reward_create,
    reward_delete,
    reward_update,
    reward_validate,
)
from gamify.wallet.services.errors import (
    BalanceLimit,
    InsufficientFunds,
    InvalidTransition,
    LedgerKeyConflict,
    LimitReached,
    NotFoundError,
    OutOfStock,
    RewardUnavailable,
)
from gamify.wallet.services.ledger import (
    CREDIT_KINDS,
    DEBIT_KINDS,
    MAX_BALANCE,
    conversion_rule_delete,
    conversion_rule_set,
    points_convert,
    wallet_credit,
    wallet_debit,
    wallet_for_update,
    wallet_grant,
)
from gamify.wallet.services.redemptions import (
    TRANSITIONS,
    redemption_approve,
    redemption_fulfil,
    redemption_reject,
    redemption_request,
    redemption_transition,
)

__all__ = [
    "CREDIT_KINDS",
    "DEBIT_KINDS",
    "MAX_BALANCE",
    "REWARD_FIELDS",
    "TRANSITIONS",
    "BalanceLimit",
    "InsufficientFunds",
    "InvalidTransition",
    "LedgerKeyConflict",
    "LimitReached",
    "NotFoundError",
    "OutOfStock",
    "RewardUnavailable",
    "conversion_rule_delete",
    "conversion_rule_set",
    "points_convert",
    "redemption_approve",
    "redemption_fulfil",
    "redemption_reject",
    "redemption_request",
    "redemption_transition",
    "reward_create",
    "reward_delete",
    "reward_update",
    "reward_validate",
    "wallet_credit",
    "wallet_debit",
    "wallet_for_update",
    "wallet_grant",
]
