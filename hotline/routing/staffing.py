"""Staffing (WFM): how many agents a queue needs, by Erlang C and by Erlang A.

Pure functions, no I/O: the CLI (``hotline staffing``) and the supervisor wallboard both call them.

*Erlang C* (M/M/N) assumes callers wait for ever; it is the industry's planning default and errs on the
safe side. *Erlang A* (M/M/N+M, Palm 1943; Garnett, Mandelbaum & Reiman 2002) adds impatience: each
caller abandons after an exponential patience with mean ``patience_s``. Abandonment relieves the queue,
so Erlang A usually needs fewer agents and reports the abandonment the wallboard shows.

Numerics. Erlang B comes from the recursion ``B(k) = A·B(k-1) / (k + A·B(k-1))`` (no factorials, fine
for thousands of agents); Erlang C is ``N·B / (N − A·(1 − B))``. Erlang A is written with the
incomplete-gamma function (Mandelbaum & Zeltyn, "The M/M/n+G queue: summary of performance
measures"): with ``a = Nμ/θ`` and ``y = λ/θ`` everything reduces to

    K(a, y) = e^y · y^(−a) · γ(a, y) = Σ_k y^k / (a (a+1) … (a+k))

computed in logarithms: by that positive series when it converges fast (y ≤ 0.8·a), otherwise from
``scipy.special.gammainc`` with Stirling's series for the prefactor, so that a patience of years
(Erlang A → Erlang C) neither overflows nor loses precision.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Literal, TypeGuard

Model = Literal["erlang_c", "erlang_a"]

__all__ = ["Performance", "StaffingResult", "erlang_b", "erlang_c", "performance", "required_agents",
           "shortfall", "traffic_erlangs"]


@dataclass(frozen=True)
class Performance:
    """How a queue does with a given number of agents.

    ``service_level`` is the share of *all offered* contacts answered within ``answer_s`` (with Erlang A an
    abandoned contact counts as not answered, whenever it hung up); ``asa_s`` is the mean wait of the
    contacts that are answered (0 for those answered at once); ``occupancy`` is the share of agent time
    spent handling contacts (``A/N`` for Erlang C, ``A·(1 − P(abandon))/N`` for Erlang A).
    """

    agents: int
    traffic_erlangs: float
    service_level: float
    p_wait: float
    asa_s: float
    occupancy: float
    p_abandon: float | None
    model: Model


@dataclass(frozen=True)
class StaffingResult:
    """The answer of :func:`required_agents`: agents on the phones (raw) and on the schedule."""

    raw_agents: int
    scheduled_agents: int
    service_level: float
    p_wait: float
    asa_s: float
    occupancy: float
    traffic_erlangs: float
    p_abandon: float | None
    model: Model

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# --------------------------------------------------------------------------------------------- inputs

def _check(calls: float, interval_s: float, aht_s: float, answer_s: float,
           patience_s: float | None) -> None:
    if not math.isfinite(interval_s) or interval_s <= 0:
        raise ValueError(f"interval must be a positive number of seconds, got {interval_s!r}")
    if not math.isfinite(aht_s) or aht_s <= 0:
        raise ValueError(f"average handle time (AHT) must be a positive number of seconds, got {aht_s!r}")
    if not math.isfinite(calls) or calls < 0:
        raise ValueError(f"calls must be zero or more, got {calls!r}")
    if not math.isfinite(answer_s) or answer_s < 0:
        raise ValueError(f"answer time must be zero or more seconds, got {answer_s!r}")
    if patience_s is not None and not (patience_s > 0):
        raise ValueError(f"patience must be a positive number of seconds, got {patience_s!r}")


def traffic_erlangs(calls: float, interval_s: float, aht_s: float) -> float:
    """Offered load A = calls × AHT / interval: the number of agents that would be busy all the time."""
    _check(calls, interval_s, aht_s, 0.0, None)
    return calls * aht_s / interval_s


# ------------------------------------------------------------------------------------------- Erlang B/C

def erlang_b(agents: int, erlangs: float) -> float:
    """Blocking probability of N servers offered A erlangs, by the stable recursion."""
    if agents < 0 or erlangs < 0:
        raise ValueError("agents and traffic must be zero or more")
    b = 1.0
    for k in range(1, agents + 1):
        b = erlangs * b / (k + erlangs * b)
    return b


def _c_from_b(agents: int, erlangs: float, b: float) -> float:
    if agents <= erlangs:
        return 1.0
    return agents * b / (agents - erlangs * (1.0 - b))


def erlang_c(agents: int, erlangs: float) -> float:
    """Probability that a caller waits (all N agents busy) with A erlangs offered; 1 when N ≤ A."""
    return _c_from_b(agents, erlangs, erlang_b(agents, erlangs))


def _perf_c(agents: int, erlangs: float, aht_s: float, answer_s: float, b: float) -> Performance:
    if erlangs == 0:
        return Performance(agents, 0.0, 1.0, 0.0, 0.0, 0.0, None, "erlang_c")
    if agents <= erlangs:  # the queue grows without bound
        return Performance(agents, erlangs, 0.0, 1.0, math.inf, 1.0, None, "erlang_c")
    pw = _c_from_b(agents, erlangs, b)
    sl = 1.0 - pw * math.exp(-(agents - erlangs) * answer_s / aht_s)
    return Performance(agents, erlangs, sl, pw, pw * aht_s / (agents - erlangs), erlangs / agents, None,
                       "erlang_c")


# --------------------------------------------------------------------------------------------- Erlang A

def _stirling_err(a: float) -> float:
    """lgamma(a) − ((a − ½)·ln a − a + ½·ln 2π), accurate also where both sides are huge."""
    if a < 15.0:
        return math.lgamma(a) - ((a - 0.5) * math.log(a) - a + 0.5 * math.log(2 * math.pi))
    a2 = a * a
    return (1 / 12 - (1 / 360 - (1 / 1260 - 1 / (1680 * a2)) / a2) / a2) / a


def _log_k_series(a: float, y: float) -> float:
    term = total = 1.0 / a
    k = 1
    while term > total * 1e-17:
        term *= y / (a + k)
        total += term
        k += 1
    return math.log(total)


def _log_k(a: float, y: float) -> float:
    """ln K(a, y) with K(a, y) = e^y·y^(−a)·γ(a, y) = Σ_k y^k / (a)_(k+1)  (a > 0, y ≥ 0)."""
    if y <= 0.8 * a:
        return _log_k_series(a, y)
    from scipy.special import gammainc  # regularized lower incomplete gamma P(a, y)

    p = float(gammainc(a, y))
    if p < 1e-280:  # only near y ≈ a with a huge: the series still converges
        return _log_k_series(a, y)
    d = (y - a) / a
    return a * (d - math.log1p(d)) + 0.5 * math.log(2 * math.pi / a) + _stirling_err(a) + math.log(p)


def _log_add(x: float, y: float) -> float:
    if x < y:
        x, y = y, x
    return x if y == -math.inf else x + math.log1p(math.exp(y - x))


def _log_erlang_b(agents: int, erlangs: float) -> float:
    """ln B(N, A), through 1/B to survive N ≫ A where B underflows."""
    log_inv = 0.0  # ln(1/B(0)) = 0
    for k in range(1, agents + 1):
        # 1/B(k) = 1 + (k/A)·(1/B(k−1))
        log_inv = _log_add(0.0, math.log(k / erlangs) + log_inv)
    return -log_inv


class _ErlangA:
    """The M/M/N+M quantities for one offered load and patience; N varies."""

    def __init__(self, calls: float, interval_s: float, aht_s: float, patience_s: float, answer_s: float) -> None:
        self.lam, self.mu, self.theta, self.t = calls / interval_s, 1.0 / aht_s, 1.0 / patience_s, answer_s
        self.erlangs = calls * aht_s / interval_s
        self.y = self.lam / self.theta
        self.y_t = self.y * math.exp(-self.theta * answer_s)

    def core(self, n: int, log_b_prev: float) -> tuple[float, float, float, float]:
        """(P(wait), P(abandon), service level, ln π_(N−1)) for N agents, given ln B(N−1, A).

        π_(N−1) is the stationary probability of exactly N−1 busy agents; the offered wait V has the
        density λ·π_(N−1)·exp(λH(x) − Nμx) on x > 0 (Baccelli & Hébuterne), which integrates to the
        closed forms below (K as in the module docstring):
          P(wait)          = π·y·K(a, y)
          P(abandon)       = π·(1 + (y − a)·K(a, y))
          P(served, V > t) = π·exp(y − y_t − Nμt)·y_t·K(a+1, y_t),  y_t = y·e^(−θt)
          SL               = 1 − P(abandon) − P(served, V > t)
        """
        if n == 0:
            return 1.0, 1.0, 0.0, -math.inf
        a = n * self.mu / self.theta
        y, y_t = self.y, self.y_t
        log_k = _log_k(a, y)
        log_pi = -_log_add(-log_b_prev, math.log(y) + log_k)  # π = 1 / (1/B(N−1) + y·K)
        p_wait = 1.0 / (1.0 + math.exp(min(-log_b_prev - math.log(y) - log_k, 700.0)))
        p_ab = math.exp(log_pi) + (y - a) * math.exp(log_pi + log_k)
        p_ab = min(max(p_ab, 0.0), p_wait)
        if y_t > 0:
            log_late = (-y * math.expm1(-self.theta * self.t) - n * self.mu * self.t + log_pi
                        + math.log(y_t) + _log_k(a + 1.0, y_t))
            late = math.exp(min(log_late, 0.0))
        else:
            late = 0.0
        sl = min(max(1.0 - p_ab - late, 0.0), 1.0)
        return p_wait, p_ab, sl, log_pi

    def asa(self, n: int, log_pi: float, p_ab: float) -> float:
        """Mean wait of answered contacts: λ·π·∫ x·e^(φ(x)) dx / P(served), φ(x) = λH(x) − (Nμ + θ)x."""
        served = 1.0 - p_ab
        if n == 0 or served <= 0 or log_pi == -math.inf:
            return math.inf if n == 0 else 0.0
        from scipy.integrate import quad

        lam, th, y = self.lam, self.theta, self.y
        rate = n * self.mu + th

        def phi(x: float) -> float:
            return -y * math.expm1(-th * x) - rate * x

        x_star = math.log(lam / rate) / th if lam > rate else 0.0
        top = phi(x_star)
        curv = th * lam * math.exp(-th * x_star)  # −φ''(x*)
        slope = rate - lam if x_star == 0.0 else 0.0
        scale = min(1.0 / slope if slope > 0 else math.inf, 1.0 / math.sqrt(curv))
        h = scale
        while phi(x_star + h) + math.log(x_star + h) - top - math.log(max(x_star, scale)) > -45.0:
            h *= 2.0

        def f(x: float) -> float:
            return x * math.exp(phi(x) - top)

        # the mass sits within a few `scale` of the peak x*; tell quad where to look
        lo = max(0.0, x_star - h)
        hi = x_star + h
        cuts = sorted({min(max(x_star + scale * k, lo), hi) for k in (-16, -4, -1, 0, 1, 4, 16)} - {lo, hi})
        total = quad(f, lo, hi, points=cuts or None, limit=200)[0]
        if total <= 0:
            return 0.0
        return math.exp(math.log(lam) + log_pi + top + math.log(total)) / served

    def performance(self, n: int, log_b_prev: float) -> Performance:
        p_wait, p_ab, sl, log_pi = self.core(n, log_b_prev)
        occ = self.erlangs * (1.0 - p_ab) / n if n else 1.0
        return Performance(n, self.erlangs, sl, p_wait, self.asa(n, log_pi, p_ab), min(occ, 1.0), p_ab,
                           "erlang_a")


# ------------------------------------------------------------------------------------------ public API

def _uses_patience(patience_s: float | None) -> TypeGuard[float]:
    return patience_s is not None and math.isfinite(patience_s)


def performance(agents: int, calls: float, interval_s: float, aht_s: float, answer_s: float,
                patience_s: float | None = None) -> Performance:
    """Service level, P(wait), ASA, occupancy (and abandonment) with ``agents`` on the phones.

    Erlang C when ``patience_s`` is None or infinite, Erlang A otherwise.
    """
    _check(calls, interval_s, aht_s, answer_s, patience_s)
    if agents < 0:
        raise ValueError(f"agents must be zero or more, got {agents!r}")
    erlangs = calls * aht_s / interval_s
    if not _uses_patience(patience_s):
        return _perf_c(agents, erlangs, aht_s, answer_s, erlang_b(agents, erlangs))
    if erlangs == 0:
        return Performance(agents, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, "erlang_a")
    model = _ErlangA(calls, interval_s, aht_s, patience_s, answer_s)
    return model.performance(agents, _log_erlang_b(agents - 1, erlangs) if agents else 0.0)


def _scheduled(raw: int, shrinkage: float) -> int:
    # round first: 14 / 0.7 is 20.000000000000004 in binary floating point
    return math.ceil(round(raw / (1.0 - shrinkage), 9))


def required_agents(calls: float, interval_s: float, aht_s: float, service_level: float, answer_s: float,
                    max_occupancy: float | None = None, shrinkage: float = 0.0,
                    patience_s: float | None = None) -> StaffingResult:
    """The smallest N whose service level meets the target (and occupancy ≤ ``max_occupancy``).

    ``raw_agents`` must be on the phones; ``scheduled_agents = ceil(raw / (1 − shrinkage))`` covers
    breaks, training and absence. Erlang C unless a finite ``patience_s`` asks for Erlang A.
    """
    _check(calls, interval_s, aht_s, answer_s, patience_s)
    if not (0.0 < service_level < 1.0):
        raise ValueError(f"service level must be a fraction between 0 and 1 (e.g. 0.8), got {service_level!r}")
    if not (0.0 <= shrinkage < 1.0):
        raise ValueError(f"shrinkage must be a fraction in [0, 1) (e.g. 0.3), got {shrinkage!r}")
    if max_occupancy is not None and not (0.0 < max_occupancy <= 1.0):
        raise ValueError(f"maximum occupancy must be a fraction in (0, 1] (e.g. 0.85), got {max_occupancy!r}")
    erlangs = calls * aht_s / interval_s
    erlang_a = _uses_patience(patience_s)
    model: Model = "erlang_a" if erlang_a else "erlang_c"
    if erlangs == 0:
        return StaffingResult(0, 0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0 if erlang_a else None, model)
    cap = max_occupancy if max_occupancy is not None else 1.0

    if not erlang_a:
        # Erlang C is stable only for N > A; occupancy A/N ≤ cap gives another lower bound.
        n = max(math.floor(erlangs) + 1, math.ceil(erlangs / cap - 1e-9))
        b = erlang_b(n, erlangs)
        while True:
            perf = _perf_c(n, erlangs, aht_s, answer_s, b)
            if perf.service_level >= service_level and perf.occupancy <= cap:
                break
            n += 1
            b = erlangs * b / (n + erlangs * b)
    else:
        assert patience_s is not None
        q = _ErlangA(calls, interval_s, aht_s, patience_s, answer_s)
        # Only answered contacts count and agents answer at most N/A of them: N ≥ target·A.
        n = max(1, math.ceil(service_level * erlangs - 1e-9))
        log_b_prev = _log_erlang_b(n - 1, erlangs)
        while True:
            _, p_ab, sl, _ = q.core(n, log_b_prev)
            if sl >= service_level and erlangs * (1.0 - p_ab) / n <= cap:
                break
            log_b_prev = math.log(erlangs) + log_b_prev - _log_add(math.log(n), math.log(erlangs) + log_b_prev)
            n += 1
        perf = q.performance(n, log_b_prev)
    return StaffingResult(raw_agents=n, scheduled_agents=_scheduled(n, shrinkage),
                          service_level=perf.service_level, p_wait=perf.p_wait, asa_s=perf.asa_s,
                          occupancy=perf.occupancy, traffic_erlangs=erlangs, p_abandon=perf.p_abandon,
                          model=model)


def shortfall(calls: float, interval_s: float, aht_s: float, sl: float, answer_s: float, agents_now: int,
              **kw: Any) -> int:
    """Agents a queue is short right now (≥ 0), for the wallboard.

    ``agents_now`` are the agents staffed on the queue at this moment (available, busy or in wrap-up), so
    they are compared with the *raw* requirement; shrinkage, if passed, does not change the answer.
    Other keywords go to :func:`required_agents` (``max_occupancy``, ``patience_s``).
    """
    if agents_now < 0:
        raise ValueError(f"agents now must be zero or more, got {agents_now!r}")
    need = required_agents(calls, interval_s, aht_s, sl, answer_s, **kw).raw_agents
    return max(0, need - agents_now)
