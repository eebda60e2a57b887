"""Cutting a timeline into time segments, and segments into chunks. Pure: spans in, spans out.

Why segments: ffmpeg opens every input of a graph when it starts, and each open video decoder holds
frames (about 35 MB at 1080p with frame threads). A 200-cut edit rendered as one graph opens 200
decoders at once. Rendered as segments, each ffmpeg opens only the clips on screen during its
segment, so memory follows what is on screen, not the length of the edit. The pictures of the
segments are then joined without re-encoding, and the sound is mixed once over the whole timeline
(see ``render.py``), so nothing about the result shows where the joins are.

Cuts fall where clips start or end whenever possible, so most clips are opened exactly once; a clip
longer than a segment is cut mid-way and continues exactly where it was (``Plan.window``).

Chunks are runs of consecutive segments of about equal length, rendered by different workers at once.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass

from framefleet.compositor.plan import Plan, Span, VisualItem


@dataclass(frozen=True)
class Policy:
    """How a render is cut: ``max_inputs`` decoded pictures (video or image clips) open at once, and
    segments no longer than ``max_seconds``. A timeline within both limits renders in one piece."""

    max_inputs: int = 6
    max_seconds: float = 60.0


def _heavy(item: VisualItem) -> bool:
    """Layers whose input holds decoded frames; text, colour and caption pictures are small."""
    return item.clip.type in ("video", "image")


def split(plan: Plan, policy: Policy = Policy()) -> list[Span]:
    """The plan's frames (``plan.span``: all of them, or an ``output.range``) as consecutive segments
    under ``policy``.

    Greedy: each segment runs to the furthest clip boundary that keeps it within both limits. Where
    more clips than ``max_inputs`` are on screen at once, the segment is as short as the clips allow:
    what is on screen has to be open.
    """
    first, frames = plan.span.start, plan.span.end
    max_frames = max(1, plan.canvas.frame(policy.max_seconds))
    items = sorted((v.span for v in plan.visuals if _heavy(v)), key=lambda s: (s.start, s.end))
    starts = [s.start for s in items]
    cuts = sorted({b for s in items for b in (s.start, s.end) if first < b < frames} | {frames})
    segments: list[Span] = []
    start = first
    while start < frames:
        # Clips already on screen at ``start``, then each later clip as the segment grows past its start.
        open_now = sum(1 for s in items if s.start < start < s.end or s.start == start)
        added = bisect.bisect_right(starts, start)
        end = None
        for cut in cuts[bisect.bisect_right(cuts, start):]:
            if cut - start > max_frames:
                break
            while added < len(items) and items[added].start < cut:
                open_now += 1
                added += 1
            if open_now > policy.max_inputs and end is not None:
                break
            end = cut
            if open_now > policy.max_inputs:
                break
        if end is None:  # no clip boundary within reach: cut by length
            end = min(frames, start + max_frames)
        segments.append(Span(start, end))
        start = end
    return segments


def chunks(segments: Sequence[Span], count: int) -> list[list[Span]]:
    """``segments`` in at most ``count`` runs of about equal frames (each at least one segment)."""
    if not segments:
        return []
    count = max(1, min(count, len(segments)))
    total = segments[-1].end - segments[0].start
    runs: list[list[Span]] = [[] for _ in range(count)]
    for segment in segments:
        middle = (segment.start + segment.end) / 2 - segments[0].start
        runs[min(count - 1, int(middle * count / total))].append(segment)
    return [run for run in runs if run]


def count_for(duration: float, chunk_seconds: float, requested: int | None) -> int:
    """How many chunks a render of ``duration`` seconds gets: ``requested``, or one per
    ``chunk_seconds`` (rounded to the nearest, at least one)."""
    if requested is not None:
        return max(1, requested)
    return max(1, round(duration / chunk_seconds))
