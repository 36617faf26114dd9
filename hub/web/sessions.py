"""Who is signed in to the managers' page, and who keeps guessing secrets.

Sessions live in the hub's memory (a restart signs everybody out, as a shop expects
of a box that rebooted): the cookie carries only a random id, so logging out ends the
session on the server, not merely in the browser.  Each session has its own CSRF
token, which every form post must carry; the sign-in form, before any session, carries
a token signed with the hub's key instead.
"""

from __future__ import annotations

import secrets
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field

from itsdangerous import BadSignature, URLSafeTimedSerializer

#: How long a manager stays signed in without signing in again: one working day.
SESSION_TTL_S = 10 * 3600
#: The cookie that carries the session's id.
SESSION_COOKIE = "storehub_session"
#: How long a sign-in form may sit open before its token is refused.
SIGN_IN_FORM_TTL_S = 3600
#: Wrong secrets allowed per client id, and per address, within the window; then the
#: door stays shut until the oldest failure leaves the window.  Five is plenty for typos.
MAX_FAILURES = 5
FAILURE_WINDOW_S = 300.0


@dataclass(frozen=True)
class WebSession:
    id: str
    client_id: str
    role: str
    csrf: str
    expires_at: float


@dataclass
class FailedSignIns:
    """Wrong secrets per key (a client id, an address) in a sliding window."""

    clock: Callable[[], float] = time.monotonic
    failures: dict[str, deque[float]] = field(default_factory=lambda: defaultdict(deque))

    def _recent(self, key: str) -> deque[float]:
        times = self.failures[key]
        while times and times[0] <= self.clock() - FAILURE_WINDOW_S:
            times.popleft()
        return times

    def blocked_for(self, *keys: str) -> float:
        """Seconds until any of ``keys`` may try again; 0 if all may now."""
        waits = [t[0] + FAILURE_WINDOW_S - self.clock() for k in keys if len(t := self._recent(k)) >= MAX_FAILURES]
        return max(waits, default=0.0)

    def failed(self, *keys: str) -> None:
        for key in keys:
            self._recent(key).append(self.clock())


class WebSessions:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._sessions: dict[str, WebSession] = {}
        self._signer = URLSafeTimedSerializer(secrets.token_bytes(32), salt="storehub-sign-in")
        self.failures = FailedSignIns()

    def open(self, client_id: str, role: str) -> WebSession:
        self._forget_expired()
        session = WebSession(
            id=secrets.token_urlsafe(32),
            client_id=client_id,
            role=role,
            csrf=secrets.token_urlsafe(32),
            expires_at=self.clock() + SESSION_TTL_S,
        )
        self._sessions[session.id] = session
        return session

    def find(self, session_id: str | None) -> WebSession | None:
        session = self._sessions.get(session_id or "")
        if session is None or session.expires_at <= self.clock():
            return None
        return session

    def close(self, session_id: str | None) -> None:
        self._sessions.pop(session_id or "", None)

    def _forget_expired(self) -> None:
        now = self.clock()
        for expired in [s.id for s in self._sessions.values() if s.expires_at <= now]:
            del self._sessions[expired]

    def sign_in_token(self) -> str:
        return self._signer.dumps(secrets.token_urlsafe(8))

    def sign_in_token_valid(self, token: str) -> bool:
        try:
            self._signer.loads(token, max_age=SIGN_IN_FORM_TTL_S)
        except BadSignature:
            return False
        return True
