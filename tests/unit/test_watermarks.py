"""Event time across partitions: marks per events partition, idle ones, the merged watermark."""

from __future__ import annotations

from streams.watermarks import SourceMarks, Watermark


def test_a_partition_holds_the_watermark_back_until_it_is_read_to_its_end_and_silent() -> None:
    marks = SourceMarks(idle_s=10)
    marks.saw(0, 500.0, now=99.0)
    marks.saw(1, 300.0, now=50.0)
    wm = Watermark()
    # partition 1 silent for 49 s but with a backlog: lagging, it holds the watermark
    assert wm.update(marks.marks({0, 1}, caught_up=set(), now=100.0), 2) == 300.0
    # read to its end and silent: idle, it stops holding it back
    assert wm.update(marks.marks({0, 1}, caught_up={1}, now=100.0), 2) == 500.0


def test_idle_partitions_never_push_the_watermark_forward() -> None:
    marks = SourceMarks(idle_s=10)
    marks.saw(0, 500.0, now=0.0)
    marks.saw(1, 300.0, now=0.0)
    wm = Watermark()
    assert wm.update(marks.marks({0, 1}, set(), now=1.0), 2) == 300.0
    # both read to their end and silent (a pause between file drops): nothing moves
    assert wm.update(marks.marks({0, 1}, {0, 1}, now=100.0), 2) == 300.0


def test_unknown_until_every_partition_is_reported_and_never_moves_back() -> None:
    wm = Watermark()
    assert wm.update({0: (100.0, False)}, sources=2) is None  # partition 1 unheard of
    assert wm.update({1: (None, False)}, sources=2) is None  # assigned, no event time yet
    assert wm.update({1: (None, True)}, sources=2) == 100.0  # empty and idle
    assert wm.update({1: (50.0, False)}, sources=2) == 100.0  # a slower reader: held
    assert wm.value == 100.0


def test_a_rebalance_continues_a_partition_mark_from_its_new_reader() -> None:
    wm = Watermark()
    wm.update({0: (100.0, False), 1: (120.0, False)}, sources=2)  # worker A reads both
    wm.update({1: (None, False)}, sources=2)  # worker B took partition 1, read nothing yet
    assert wm.update({0: (130.0, False)}, sources=2) == 120.0  # its mark is kept


def test_when_every_partition_is_idle_the_slowest_mark_holds() -> None:
    wm = Watermark()
    assert wm.update({0: (100.0, False), 1: (None, False)}, sources=2) is None
    # both read to their end (partition 1 never had a call): the marks are all there is
    assert wm.update({0: (100.0, True), 1: (None, True)}, sources=2) == 100.0


def test_an_idle_mark_holds_only_for_the_generation_that_made_it() -> None:
    """Worker A read partitions 0..3 to their end and called them idle; a rebalance gave 0
    and 1 to worker B, which has a backlog on them. A's later messages report 2 and 3 only:
    A's old idle flags for 0 and 1 must not let the watermark run past B's backlog."""
    wm = Watermark()
    idle_a = {p: (100.0, True) for p in range(4)}
    assert wm.update(idle_a, sources=4, generation=1) == 100.0
    # generation 2: A reads 2 and 3 far ahead; 0 and 1 still stand at 100 until B reports
    assert wm.update({2: (900.0, False), 3: (950.0, False)}, 4, generation=2) == 100.0
    assert wm.update({0: (400.0, False), 1: (None, False)}, 4, generation=2) == 100.0
    # an old message of A's, read late, must not make 0 and 1 idle again
    assert wm.update(idle_a, sources=4, generation=1) == 100.0
    assert wm.update({0: (450.0, False), 1: (500.0, False)}, 4, generation=2) == 450.0
    # B caught up and silent: now its own idle word lets the watermark go on
    assert wm.update({0: (450.0, True), 1: (500.0, True)}, 4, generation=2) == 900.0
