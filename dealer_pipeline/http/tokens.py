"""One token per credential for every process, kept encrypted in the store (`api_tokens`).

A process reads the shared row; when the token is missing, invalidated (a 401 somewhere)
or has less than the refresh margin left, it takes a short lease with one conditional
`UPDATE` (rowcount 1 wins), asks the vendor for a new token and writes it back. Losers
keep using the old token while it is still valid, else poll the row until the winner's
token appears or the lease runs out. So N processes make one token request per lifetime.

The token is encrypted with Fernet under a key derived (HKDF-SHA256) from the vendor
secret, so a store dump alone does not reveal it; it is never logged.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from dealer_pipeline.http.auth import TokenAuth, TokenGrant
from dealer_pipeline.http.errors import AuthFailed
from dealer_pipeline.settings import Secret
from dealer_pipeline.store.engine import transaction
from dealer_pipeline.store.repository import insert_ignore
from dealer_pipeline.store.schema import api_tokens
from dealer_pipeline.store.types import utcnow

log = logging.getLogger(__name__)

_HKDF_SALT = b"dealer_pipeline/api_tokens/v1"
#: A token past its refresh margin is still sent while another process refreshes it, if it has this long left.
STILL_VALID = timedelta(seconds=5)


def token_key(vendor: str, identity: tuple[str, ...]) -> str:
    """The row key: the vendor plus a hash of (base URL, client, user), so no id is in clear."""
    digest = hashlib.sha256("\x1f".join(identity).encode()).hexdigest()[:40]
    return f"{vendor}:{digest}"


def derive_fernet(secret: Secret, key: str) -> Fernet:
    """A Fernet key from the vendor secret, bound to this token row by the HKDF info."""
    raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=_HKDF_SALT, info=key.encode()).derive(
        secret.reveal().encode()
    )
    return Fernet(base64.urlsafe_b64encode(raw))


def process_identity() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass
class _Memo:
    grant: TokenGrant
    read_at: float  # time.monotonic()


class TokenCache:
    """The shared token of one credential; `current()` is cheap (a 200 ms in-process memo)."""

    def __init__(
        self,
        engine: sa.Engine,
        *,
        vendor: str,
        auth: TokenAuth,
        refresh_margin_seconds: float = 60.0,
        lease_seconds: float = 30.0,
        poll_seconds: float = 0.05,
        memo_seconds: float = 0.2,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.engine = engine
        self.vendor = vendor
        self.auth = auth
        self.key = token_key(vendor, auth.identity())
        self.refresh_margin = timedelta(seconds=refresh_margin_seconds)
        self.lease = timedelta(seconds=lease_seconds)
        self.poll_seconds = poll_seconds
        self.memo_seconds = memo_seconds
        self.clock = clock
        self.owner = process_identity()
        self._fernet = derive_fernet(auth.key_material(), self.key)
        self._lock = threading.Lock()
        self._memo: _Memo | None = None
        self.refreshes = 0  # tokens this process obtained (for metadata and tests)

    # ---- public --------------------------------------------------------------------
    def current(self, obtain: Callable[[], TokenGrant]) -> TokenGrant:
        """A token with more than the refresh margin left, refreshing it (once, system-wide) if needed."""
        with self._lock:
            memo = self._memo
            if memo and time.monotonic() - memo.read_at < self.memo_seconds and self._fresh(memo.grant):
                return memo.grant
            give_up = time.monotonic() + 2 * self.lease.total_seconds()
            while True:
                row = self._read()
                grant = self._decode(row)
                if grant is not None and self._fresh(grant):
                    self._memo = _Memo(grant, time.monotonic())
                    return grant
                if self._acquire_lease(row is not None):
                    return self._refresh(obtain)
                if grant is not None and self._still_valid(grant):
                    return grant  # another process is refreshing; the old token still works
                if time.monotonic() > give_up:
                    raise AuthFailed("timed out waiting for another process to refresh the token", vendor=self.vendor)
                time.sleep(self.poll_seconds)

    def newest(self, grant: TokenGrant) -> TokenGrant:
        """`grant`, or a newer token obtained since by any process. Called just before sending, after
        waiting for a slot or a pause: never takes the lock nor calls the vendor (the caller holds a
        slot a refresh may need), at most one read of the store per memo period."""
        memo = self._memo
        if memo is not None and time.monotonic() - memo.read_at < self.memo_seconds:
            latest: TokenGrant | None = memo.grant
        else:
            latest = self._decode(self._read())
            if latest is not None:
                self._memo = _Memo(latest, time.monotonic())
        if latest is not None and latest.obtained_at > grant.obtained_at and self._fresh(latest):
            return latest
        return grant

    def usable(self, grant: TokenGrant) -> bool:
        """Whether `grant` may still be sent: what `current()` would hand out now (fresh, or valid a while
        longer), so a caller that finds it unusable after a wait gets a new one from `current()`."""
        return self._fresh(grant) or self._still_valid(grant)

    def invalidate(self, grant: TokenGrant) -> bool:
        """Mark this generation of the token unusable for every process (after a 401)."""
        with self._lock:
            self._memo = None
            with transaction(self.engine) as conn:
                result = conn.execute(
                    sa.update(api_tokens)
                    .where(
                        api_tokens.c.token_key == self.key,
                        api_tokens.c.obtained_at == grant.obtained_at,
                        api_tokens.c.invalidated_at.is_(None),
                    )
                    .values(invalidated_at=self.clock())
                )
            return result.rowcount == 1

    # ---- internals -----------------------------------------------------------------
    def _fresh(self, grant: TokenGrant) -> bool:
        return grant.expires_at - self.clock() > self.refresh_margin

    def _still_valid(self, grant: TokenGrant) -> bool:
        return grant.expires_at - self.clock() > STILL_VALID

    def _read(self) -> sa.RowMapping | None:
        with self.engine.connect() as conn:
            return conn.execute(sa.select(api_tokens).where(api_tokens.c.token_key == self.key)).mappings().first()

    def _decode(self, row: sa.RowMapping | None) -> TokenGrant | None:
        if row is None or row["ciphertext"] is None or row["invalidated_at"] is not None:
            return None
        if row["expires_at"] is None or row["obtained_at"] is None:
            return None
        try:
            token = self._fernet.decrypt(row["ciphertext"].encode()).decode()
        except InvalidToken:
            log.warning("%s token in the store cannot be decrypted with the current secret; refreshing", self.vendor)
            return None
        return TokenGrant(Secret(token), row["expires_at"], row["obtained_at"])

    def _acquire_lease(self, row_exists: bool) -> bool:
        now = self.clock()
        lease = {"lease_owner": self.owner, "lease_until": now + self.lease}
        with transaction(self.engine) as conn:
            if not row_exists and insert_ignore(
                conn, api_tokens, {"token_key": self.key, "vendor": self.vendor, **lease}, ["token_key"]
            ):
                return True
            result = conn.execute(
                sa.update(api_tokens)
                .where(
                    api_tokens.c.token_key == self.key,
                    sa.or_(api_tokens.c.lease_until.is_(None), api_tokens.c.lease_until < now),
                )
                .values(**lease)
            )
            return result.rowcount == 1

    def _release_lease(self) -> None:
        with transaction(self.engine) as conn:
            conn.execute(
                sa.update(api_tokens)
                .where(api_tokens.c.token_key == self.key, api_tokens.c.lease_owner == self.owner)
                .values(lease_owner=None, lease_until=None)
            )

    def _refresh(self, obtain: Callable[[], TokenGrant]) -> TokenGrant:
        try:
            # Someone may have stored a fresh token between our read and our lease.
            grant = self._decode(self._read())
            if grant is None or not self._fresh(grant):
                grant = obtain()
                self.refreshes += 1
                self._store(grant)
            else:
                self._release_lease()
        except BaseException:
            self._release_lease()
            raise
        self._memo = _Memo(grant, time.monotonic())
        return grant

    def _store(self, grant: TokenGrant) -> None:
        ciphertext = self._fernet.encrypt(grant.token.reveal().encode()).decode()
        with transaction(self.engine) as conn:
            conn.execute(
                sa.update(api_tokens)
                .where(api_tokens.c.token_key == self.key, api_tokens.c.lease_owner == self.owner)
                .values(
                    ciphertext=ciphertext,
                    expires_at=grant.expires_at,
                    obtained_at=grant.obtained_at,
                    invalidated_at=None,
                    lease_owner=None,
                    lease_until=None,
                )
            )
