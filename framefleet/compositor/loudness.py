"""Loudness normalisation in two passes: measure the whole mix, then apply one gain.

The first pass reads the finished mix once through ``ebur128`` (EBU R128 integrated loudness and true
peak); the second applies a single gain that brings it to the target. This is linear normalisation, as
broadcasters and the short-video platforms do it: the mix keeps its dynamics, where single-pass
``loudnorm`` rides the gain up and down through the timeline (music beds audibly pump). It also costs
less: ``loudnorm`` resamples the whole mix to 192 kHz, a third of a short render's sound CPU.

A mix whose peaks that gain would push past the true-peak ceiling (a quiet recording with loud
transients) is normalised dynamically by ``loudnorm`` instead, as every mix was before: the way
``loudnorm``'s own two-pass ``linear`` mode falls back. A peak limiter after the gain was tried: it
takes the loudness of what it flattens with it, and a mix limited by 2 dB ended a whole LU short.

Both passes mix the same inputs through the same filters, so the second hears exactly what the first
measured.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

#: The highest true peak a normalised mix may reach (dBTP), as ``loudnorm``'s ``TP`` was.
CEILING_DBTP = -1.5
#: ``loudnorm``'s loudness range target when it normalises dynamically.
DYNAMIC_LRA = 11
#: At or below this the mix is silence (the R128 absolute gate): it is left as it is.
SILENT_LUFS = -70.0
#: The most a mix is raised. A near-silent mix (room tone, one faint effect) raised all the way to the
#: target would be noise at full loudness; above this it is raised by this much and stays quieter.
MAX_GAIN_DB = 40.0

_METADATA = "lavfi.r128."


@dataclass(frozen=True)
class Measured:
    """A mix's integrated loudness (LUFS) and true peak (dBTP)."""

    integrated: float
    true_peak: float


@dataclass(frozen=True)
class Level:
    """What the second pass applies: one gain (dB); or, when ``dynamic``, ``loudnorm`` to ``target`` LUFS."""

    gain_db: float
    dynamic: bool = False
    target: float = 0.0


def parse(printed: Iterable[str]) -> Measured:
    """The measurement from the lines of ``ametadata=mode=print`` output of ``ebur128=metadata=1:peak=true``.

    Each 100 ms frame prints the integrated loudness so far (the last one is the whole mix's) and
    its true peaks (linear): the mix's true peak is the largest of them. The lines are read one at a
    time (an open file will do), as an hour's print is megabytes.
    """
    integrated: float | None = None
    peak = 0.0
    for line in printed:
        if not line.startswith(_METADATA):
            continue
        key, _, value = line[len(_METADATA):].partition("=")
        try:
            number = float(value)
        except ValueError:
            continue
        if key == "I":
            integrated = number
        elif key.startswith("true_peak"):
            peak = max(peak, number)
    if integrated is None:  # no frame at all: a mix of zero length
        return Measured(SILENT_LUFS, -math.inf)
    return Measured(integrated, 20 * math.log10(peak) if peak > 0 else -math.inf)


def level_for(measured: Measured, target: float) -> Level:
    """The gain that brings ``measured`` to ``target`` LUFS, or dynamic normalisation when that gain
    would push its peaks past the ceiling."""
    if not measured.integrated > SILENT_LUFS + 0.01:  # silence, or not a number (a NaN sample)
        return Level(0.0)
    gain = round(min(target - measured.integrated, MAX_GAIN_DB), 2)
    if measured.true_peak + gain > CEILING_DBTP:
        return Level(0.0, dynamic=True, target=target)
    return Level(gain)
