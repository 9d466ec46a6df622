"""Columnar batches of calls and the shared pieces every traffic component uses.

Components build numpy columns and one batch per component; records are made only at the end,
which keeps 500k calls in a few seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import numpy as np

from streams.traffic.numbers import Pool, build_pool, intl_prefix

INTL_TRUNKS = ("INTL-BICS-1", "INTL-SPARKLE-1", "INTL-TATA-1")
NAT_TRUNKS = ("NAT-TIM-1", "NAT-VODAFONE-1")
MOB_TRUNK = "MOB-WINDTRE-1"
ENT_TRUNK = "ENT-ACME-SIP"
CARRIER_TRUNK = "INTL-CARRIER-1"  # the bare-digit trap's trunk (streams/traffic/carriers.py)
UNSCREENED_TRUNK = "INTL-WHOLESALE-1"  # an unscreened carrier (streams/traffic/screening.py)
TRUNK_KIND = {
    **dict.fromkeys(INTL_TRUNKS, "international"),
    CARRIER_TRUNK: "international",
    UNSCREENED_TRUNK: "international",
    **dict.fromkeys(NAT_TRUNKS, "national"),
    MOB_TRUNK: "mobile",
    ENT_TRUNK: "national",
}
# Q.850 causes of unanswered calls and their shares: busy, no answer, caller cancelled,
# no user responding, rejected, normal unspecified.
_FAIL_CAUSES = np.array([17, 19, 16, 18, 21, 31])
_FAIL_P = np.array([0.25, 0.45, 0.18, 0.05, 0.04, 0.03])


@dataclass
class Context:
    """What every component needs about the home network: pools and dialling habits."""

    home: str
    seed: int
    t0: float
    hours: float
    intl: str  # the home international prefix, "00" for IT and CN
    subscribers: Pool  # the operator's own customers: the callees
    mobiles: Pool  # other home mobile numbers (domestic callers, spoof material)
    fixed: Pool
    intl_per_hour: float = 0.0  # daily mean of normal calls from abroad (a surge scales it)

    @classmethod
    def build(cls, home: str, seed: int, t0: float, hours: float,
              intl_per_hour: float = 0.0) -> Context:
        return cls(
            home=home, seed=seed, t0=t0, hours=hours, intl=intl_prefix(home),
            subscribers=build_pool(home, "mobile", 20000, seed),
            mobiles=build_pool(home, "mobile", 8000, seed + 1),
            fixed=build_pool(home, "fixed", 4000, seed),
            intl_per_hour=intl_per_hour,
        )

    def until_end(self, t0: float, hours: float | None) -> Context:
        """The same network over [t0, t0 + hours), or to the end of the run when hours is
        None: what a trap that runs all day long (every day of a multi-day run) covers."""
        end = self.t0 + self.hours * 3600
        span = (end - t0) / 3600 if hours is None else min(hours, (end - t0) / 3600)
        return replace(self, t0=t0, hours=max(span, 0.0))

    def callees(self, rng: np.random.Generator, n: int, distinct: bool = False) -> np.ndarray:
        """Home subscribers as the switch logs the called party: national or E.164."""
        pool = self.subscribers
        idx = (rng.choice(len(pool), size=n, replace=False) if distinct and n <= len(pool)
               else rng.integers(0, len(pool), size=n))
        nat = rng.random(n) < 0.6
        return np.where(nat, pool.national[idx], pool.e164[idx])


@dataclass
class Calls:
    """One column per CallEvent field plus the ground-truth label columns."""

    start: np.ndarray  # float64 epoch seconds
    calling: np.ndarray  # object
    called: np.ndarray  # object
    trunk: np.ndarray  # object
    answered: np.ndarray  # bool
    duration: np.ndarray  # float64 seconds, 0 when unanswered
    ring: np.ndarray  # float64 seconds from start to answer or release
    cause: np.ndarray  # int Q.850
    verstat: np.ndarray  # object, None = absent
    attestation: np.ndarray  # object, None = absent
    roaming: np.ndarray  # object: True / False / None
    network: np.ndarray  # object: network_number (P-Asserted-Identity), None = absent
    scenario: np.ndarray  # object
    campaign: np.ndarray  # object, None for normal traffic
    component: np.ndarray  # object: which normal component or scenario made the call
    direction: np.ndarray  # object: "outbound" for a subscriber's own call, None = inbound

    def __len__(self) -> int:
        return len(self.start)

    @classmethod
    def concat(cls, parts: list[Calls]) -> Calls:
        return cls(**{f.name: np.concatenate([getattr(p, f.name) for p in parts])
                      for f in fields(cls)})


def nones(n: int) -> np.ndarray:
    return np.full(n, None, dtype=object)


def pick(rng: np.random.Generator, options: tuple[str, ...] | list[str], n: int,
         p: list[float] | None = None) -> np.ndarray:
    return np.array(options, dtype=object)[rng.choice(len(options), size=n, p=p)]


def outcomes(rng: np.random.Generator, n: int, answer_rate: float, median_s: float,
             sigma: float = 1.0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Answered flag, lognormal talk time, ring time and Q.850 cause for n calls."""
    answered = rng.random(n) < answer_rate
    talk = np.clip(rng.lognormal(np.log(median_s), sigma, n), 1.0, 4 * 3600.0)
    duration = np.where(answered, np.round(talk, 1), 0.0)
    ring_ok = np.clip(rng.lognormal(np.log(7.0), 0.5, n), 1.0, 45.0)
    cause = np.where(answered, 16, _FAIL_CAUSES[rng.choice(6, size=n, p=_FAIL_P)])
    ring_fail = np.where(cause == 17, rng.uniform(0.3, 2.0, n), rng.uniform(4.0, 60.0, n))
    ring = np.round(np.where(answered, ring_ok, ring_fail), 3)
    return answered, duration, ring, cause


def batch(rng: np.random.Generator, start: np.ndarray, calling: np.ndarray, called: np.ndarray,
          trunk: np.ndarray, *, answer_rate: float, median_s: float, sigma: float = 1.0,
          scenario: str = "normal", campaign: str | None = None, component: str = "",
          roaming: np.ndarray | None = None) -> Calls:
    n = len(start)
    answered, duration, ring, cause = outcomes(rng, n, answer_rate, median_s, sigma)
    return Calls(
        start=np.asarray(start, dtype=np.float64), calling=np.asarray(calling, dtype=object),
        called=np.asarray(called, dtype=object), trunk=np.asarray(trunk, dtype=object),
        answered=answered, duration=duration, ring=ring, cause=cause,
        verstat=nones(n), attestation=nones(n),
        roaming=nones(n) if roaming is None else roaming, network=nones(n),
        scenario=np.full(n, scenario, dtype=object), campaign=np.full(n, campaign, dtype=object),
        component=np.full(n, component or scenario, dtype=object), direction=nones(n),
    )


def stamp_stir(rng: np.random.Generator, calls: Calls, share: float,
               verstats: dict[str, float], attest: dict[str | None, float]) -> None:
    """Give a share of calls a STIR/SHAKEN verstat and attestation (absent otherwise)."""
    n = len(calls)
    carry = rng.random(n) < share
    calls.verstat = np.where(carry, pick(rng, list(verstats), n, list(verstats.values())), None)
    att = pick(rng, [a or "" for a in attest], n, list(attest.values()))
    att[att == ""] = None
    calls.attestation = np.where(carry, att, None)
