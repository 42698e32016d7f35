"""Password policy and hashing. A password must be long and not guessable: zxcvbn (offline: its
word and common-password lists ship with the package) estimates how many guesses it would take,
taking the user's own e-mail into account. Hashes are werkzeug's scrypt."""

from __future__ import annotations

import functools
import secrets

from werkzeug.security import check_password_hash, generate_password_hash
from zxcvbn import zxcvbn

MIN_LENGTH = 12
MAX_LENGTH = 1024  # bounds the hashing work one request can ask for
# zxcvbn's score: 0 top-10 common ... 3 "safely unguessable" (about 10^8 guesses or more) ... 4.
MIN_SCORE = 3
_ZXCVBN_LIMIT = 72  # zxcvbn refuses longer input; the first 72 characters decide its score anyway


def password_problem(password: object, email: str | None = None) -> str | None:
    """Why ``password`` is refused, or None when it may be used.

    :param email: the account's e-mail; a password built from its name is refused.
    """
    if not isinstance(password, str) or len(password) < MIN_LENGTH:
        return f"must have at least {MIN_LENGTH} characters"
    if len(password) > MAX_LENGTH:
        return f"must have at most {MAX_LENGTH} characters"
    if not password.strip():
        return "must not be only spaces"
    hints = [email, email.split("@")[0]] if email else []
    result = zxcvbn(password[:_ZXCVBN_LIMIT], user_inputs=hints)
    if result["score"] < MIN_SCORE:
        warning = result["feedback"].get("warning") or "it is too easy to guess"
        return (f"too common or too easy to guess ({warning.rstrip('.')}); "
                "use a longer phrase of unrelated words")
    return None


def hash_password(password: str) -> str:
    return generate_password_hash(password)


@functools.cache
def _dummy_hash() -> str:
    # Same method and cost as real hashes, so checking against it takes as long.
    return generate_password_hash(secrets.token_hex(16))


def verify_password(stored_hash: str | None, password: str) -> bool:
    """Check ``password`` against ``stored_hash``; with no hash (no such account) check it against a
    dummy one, so that every login spends one hash check whatever the account's state."""
    matched = check_password_hash(stored_hash or _dummy_hash(), password or "")
    return matched and stored_hash is not None
