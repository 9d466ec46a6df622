"""Does a trunk's declared number format fit its caller IDs? Judged once per trunk, purely.

A trunk's first `check_calls` bare-digit caller IDs (no "+" or international prefix: the
only ones whose reading depends on the format) are read under every format. The trunk is
mis-declared when fewer than half of them are valid numbers under its declared format and
more than half are under another. The other format named is the strict one ("national" or
"e164") that fits most, or "auto" when neither strict one fits a majority: a strict format
reads every number of the trunk the same way, and auto, which takes whichever reading is
valid, fits at least as many numbers as either. Numbers that no format reads as valid
(short codes, garbage digits) count against every format alike; when fewer than half are
valid under any format, the trunk is reported with no better format: its feed is another
country's than `home_country` says, or it passes invalid caller IDs on.
"""

from __future__ import annotations

from dataclasses import dataclass

from streams.detect.calls import Call
from streams.numbering import NUMBER_FORMATS, NumberFormat, read_caller
from streams.policy import Policy

# Trunks tallied or judged at once; trunk names come from records, so garbage cannot grow it.
MAX_TRUNKS = 1000
_STRICT: tuple[NumberFormat, ...] = ("national", "e164")


@dataclass(frozen=True, slots=True)
class Misfit:
    """A trunk whose caller IDs fit another format better than the declared one."""

    trunk: str
    declared: NumberFormat
    better: NumberFormat | None  # None: no format reads most of them as valid
    calls: int  # bare-digit caller IDs judged
    fits: dict[NumberFormat, float]  # format -> share of them valid under it
    region: str

    def sentence(self) -> str:
        """For logs and the offline summary: trunk names are configuration, never numbers."""
        if self.better is None:
            return (f"trunk {self.trunk!r}: only {self.fits['auto']:.0%} of its first "
                    f"{self.calls} bare-digit caller IDs are valid numbers of {self.region} "
                    "under any format: if the feed is another country's, set home_country "
                    "(or its preset); else the trunk passes invalid caller IDs on")
        return (f"trunk {self.trunk!r} is declared {self.declared} in [number_format], but "
                f"{self.fits[self.declared]:.0%} of its first {self.calls} bare-digit caller "
                f"IDs are valid read so and {self.fits[self.better]:.0%} read as "
                f"{self.better}: set [number_format.trunks] \"{self.trunk}\" = "
                f"\"{self.better}\"")


def judge(trunk: str, declared: NumberFormat, valid: dict[NumberFormat, int],
          calls: int, region: str) -> Misfit | None:
    """The rule of the module docstring over one trunk's tally."""
    fits = {fmt: valid[fmt] / calls for fmt in NUMBER_FORMATS}
    if fits[declared] >= 0.5:
        return None
    strict = [fmt for fmt in _STRICT if fmt != declared and fits[fmt] > 0.5]
    better: NumberFormat | None
    if strict:
        better = max(strict, key=fits.__getitem__)
    elif declared != "auto" and fits["auto"] > 0.5:
        better = "auto"
    elif fits["auto"] < 0.5:
        better = None
    else:
        return None  # exactly half: not "fewer than half"
    return Misfit(trunk, declared, better, calls, fits, region)


class FormatCheck:
    """Tallies each trunk's first bare-digit caller IDs, then stops looking at that trunk:
    after its judgement a trunk costs one set lookup a call."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.region = policy.home_country
        self.limit = policy.number_format.check_calls
        self._valid: dict[str, dict[NumberFormat, int]] = {}  # trunk -> valid per format
        self._seen: dict[str, int] = {}  # trunk -> bare-digit caller IDs read
        self._judged: set[str] = set()

    def see(self, call: Call) -> Misfit | None:
        """Fold one call; a Misfit exactly once, on the call that completes a bad sample."""
        trunk = call.event.ingress_trunk
        if not call.caller.bare or trunk in self._judged:
            return None
        valid = self._valid.get(trunk)
        if valid is None:
            if len(self._valid) + len(self._judged) >= MAX_TRUNKS:
                return None
            valid = self._valid[trunk] = dict.fromkeys(NUMBER_FORMATS, 0)
        raw = call.event.calling_number
        for fmt in NUMBER_FORMATS:
            valid[fmt] += read_caller(raw, self.region, fmt).valid
        seen = self._seen[trunk] = self._seen.get(trunk, 0) + 1
        if seen < self.limit:
            return None
        del self._valid[trunk], self._seen[trunk]
        self._judged.add(trunk)
        return judge(trunk, self.policy.number_format_of(trunk), valid, seen, self.region)
