"""Everything one running simulator knows: seller, clock, faults, rate limits, reports, access tokens."""

from __future__ import annotations

import datetime as dt
import secrets
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from chalkola_pipelines.simulator.clock import SimulatedClock
from chalkola_pipelines.simulator.dk_queries import DataKioskStore
from chalkola_pipelines.simulator.faults import FaultPlan
from chalkola_pipelines.simulator.reports import ReportStore
from chalkola_pipelines.simulator.request_stats import RequestStats
from chalkola_pipelines.simulator.throttling import SellerMeters, TokenBuckets

if TYPE_CHECKING:
    from chalkola_pipelines.simulator.seller import SyntheticSeller

ACCESS_TOKEN_LIFETIME = dt.timedelta(seconds=3600)


@dataclass(frozen=True)
class AccessGrant:
    api: str  # "sp" | "ads"
    region: str  # region of the refresh token that minted it
    client_id: str
    expires_at: dt.datetime

    def __repr__(self) -> str:  # never show more than needed
        return (
            f"AccessGrant(api={self.api!r}, region={self.region!r}, expires_at={self.expires_at.isoformat()})"
        )


@dataclass
class SimulatorState:
    """``seller`` is the SyntheticSeller, ``truth`` its GroundTruth, ``faults`` the FaultPlan."""

    seller: SyntheticSeller | Any
    clock: SimulatedClock
    seed: int = 7
    faults: FaultPlan = field(default_factory=FaultPlan)
    base_url: str | None = None  # set by the server once bound; else taken from the request
    st_initial_tokens: float | None = None  # per-seller S&T createReport bucket at start (None = full)
    brand_analytics: bool = True  # the app has the Brand Analytics role (Data Kiosk answers 403 without)
    buckets: TokenBuckets = field(init=False)
    meters: SellerMeters = field(init=False)
    data_kiosk: DataKioskStore = field(init=False)
    reports: ReportStore = field(init=False)
    request_stats: RequestStats = field(default_factory=RequestStats, init=False)  # calls by operation/status
    _tokens: dict[str, AccessGrant] = field(default_factory=dict, init=False, repr=False)
    _used_codes: set[str] = field(default_factory=set, init=False, repr=False)  # LWA codes are single-use
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def __post_init__(self) -> None:
        self.buckets = TokenBuckets(self.clock)
        self.meters = SellerMeters(self.clock, self.st_initial_tokens)
        self.data_kiosk = DataKioskStore(self.clock, self.seed)
        self.reports = ReportStore(self.clock, self.seed)

    @property
    def truth(self) -> Any:
        return self.seller.truth

    @property
    def time_scale(self) -> float:
        return self.clock.time_scale

    def issue_access_token(self, api: str, region: str, client_id: str) -> str:
        token = f"Atza|chalkola-sim-{api}-{secrets.token_urlsafe(24)}"
        grant = AccessGrant(api, region, client_id, dt.datetime.now(dt.UTC) + ACCESS_TOKEN_LIFETIME)
        with self._lock:
            self._tokens[token] = grant
        return token

    def redeem_authorization_code(self, code: str) -> bool:
        """False when the code was already exchanged (Amazon's authorization codes are single-use)."""
        with self._lock:
            if code in self._used_codes:
                return False
            self._used_codes.add(code)
            return True

    def lookup_access_token(self, token: str) -> tuple[AccessGrant | None, bool]:
        """(grant, still valid). Access tokens live 3600 real seconds (not scaled)."""
        with self._lock:
            grant = self._tokens.get(token)
        if grant is None:
            return None, False
        return grant, dt.datetime.now(dt.UTC) < grant.expires_at

    def expire_access_tokens(self) -> None:
        """Make every issued access token expired (tests of the 401/403 path)."""
        with self._lock:
            past = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
            self._tokens = {
                t: AccessGrant(g.api, g.region, g.client_id, past) for t, g in self._tokens.items()
            }


def create_state(
    *,
    seed: int = 7,
    time_scale: float = 60.0,
    faults: Any = (),
    st_initial_tokens: float | None = None,
    brand_analytics: bool = True,
) -> SimulatorState:
    """A state with the real SyntheticSeller for ``seed``; ``faults`` are --fault specifications;
    ``st_initial_tokens``: the per-seller S&T createReport bucket at start (None = full: a fresh seller);
    ``brand_analytics=False``: an app without the Brand Analytics role (Data Kiosk answers 403)."""
    from chalkola_pipelines.simulator.seller import SyntheticSeller

    clock = SimulatedClock(time_scale)
    state = SimulatorState(
        seller=SyntheticSeller(seed=seed, now=clock.now),
        clock=clock,
        seed=seed,
        st_initial_tokens=st_initial_tokens,
        brand_analytics=brand_analytics,
    )
    state.faults.add_many(faults)
    return state
