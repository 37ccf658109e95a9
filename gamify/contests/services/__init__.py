"""Contests' writes, the one path for the API and the admin: validation.py, lifecycle.py,
standings.py (boards, prizes, live copies), finalization.py and beat.py (the beat moving
contests along). The names below are the package's API."""

from gamify.contests.services.beat import contests_advance
from gamify.contests.services.finalization import contest_finalize
from gamify.contests.services.lifecycle import (
    EDITABLE,
    ContestClosed,
    contest_cancel,
    contest_create,
    contest_update,
)
from gamify.contests.services.standings import (
    contest_board,
    contest_board_populate,
    contest_boards_fill_wanted,
    contest_standings,
    participant_ids,
    prize_for,
    running_contests_populate,
    running_contests_refresh,
)
from gamify.contests.services.validation import FIELDS, MAX_PRIZE, contest_validate

__all__ = [
    "EDITABLE",
    "FIELDS",
    "MAX_PRIZE",
    "ContestClosed",
    "contest_board",
    "contest_board_populate",
    "contest_boards_fill_wanted",
    "contest_cancel",
    "contest_create",
    "contest_finalize",
    "contest_standings",
    "contest_update",
    "contest_validate",
    "contests_advance",
    "participant_ids",
    "prize_for",
    "running_contests_populate",
    "running_contests_refresh",
]
