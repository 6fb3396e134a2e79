// Lost-edge detection, debounce and the per-line queue as pure traces: raw events in, passed
// events and counters out, every decision a function of the kernel timestamps.

import CGPIOD
import LoopCore
import LoopGPIO
import Testing

/// Feeds `events` (edge, microseconds) through `filter` and returns what it passed, in order.
private func run(_ filter: inout EdgeFilter, _ counters: inout LineCounters, _ events: [(Edge, Int64)])
  -> [EdgeEvent]
{
  var passed: [EdgeEvent] = []
  for (edge, time) in events {
    let out = filter.accept(EdgeEvent(edge, at: us(time)), &counters)
    if let settled = out.settled { passed.append(settled) }
    if let event = out.passed { passed.append(event) }
  }
  return passed
}

@Suite struct FilterTests {
  /// The mock's records have the kernel's v1 layout (the C header also asserts it for every
  /// target, cross builds included).
  @Test func recordLayoutIsTheKernels() {
    #expect(MemoryLayout<gpioevent_data>.size == 16)
    #expect(MemoryLayout<gpioevent_data>.stride == 16)
    #expect(MemoryLayout<gpioevent_data>.offset(of: \.id) == 8)
  }

  /// Two rising edges in a row on a both-edges line count one lost edge; both are passed.
  @Test func impossibleSequenceCountsALostEdge() {
    var filter = EdgeFilter(edges: .both, window: .zero, level: false)
    var counters = LineCounters()
    let passed = run(
      &filter, &counters, [(.rising, 10), (.falling, 20), (.rising, 30), (.rising, 50), (.falling, 60)])
    #expect(passed.map(\.edge) == [.rising, .falling, .rising, .rising, .falling])
    #expect(counters.lost == 1)
    #expect(counters.edges == 5)
  }

  /// The level read at request time counts: a line known high whose first event is a rise
  /// lost the fall before it.
  @Test func initialLevelSeedsLostEdgeDetection() {
    var filter = EdgeFilter(edges: .both, window: .zero, level: true)
    var counters = LineCounters()
    _ = run(&filter, &counters, [(.rising, 10)])
    #expect(counters.lost == 1)
  }

  /// A single-edge line has no sequence to check.
  @Test func singleEdgeLinesNeverCountLostEdges() {
    var filter = EdgeFilter(edges: .rising, window: .zero)
    var counters = LineCounters()
    _ = run(&filter, &counters, [(.rising, 10), (.rising, 20), (.rising, 30)])
    #expect(counters.lost == 0)
  }

  /// A bouncing press: the first edge passes at once, the bounces are held, and the line ends
  /// where the first edge left it, so nothing more is reported when the window ends.
  @Test func bounceBurstGivesOneEvent() {
    var filter = EdgeFilter(edges: .both, window: .milliseconds(5), level: false)
    var counters = LineCounters()
    let passed = run(
      &filter, &counters, [(.rising, 0), (.falling, 300), (.rising, 500), (.falling, 900), (.rising, 1200)])
    #expect(passed == [EdgeEvent(.rising, at: us(0))])
    // The window runs from the last bounce: quiet until 6.2 ms.
    #expect(filter.holdUntil == us(6200))
    #expect(filter.settleDeadline == nil)  // the level already is what was reported
    let settled = filter.settle(at: us(6200), &counters)
    #expect(settled == nil)
    #expect(counters.debouncedAway == 4)
    #expect(counters.edges == 5)
  }

  /// A press shorter than the window still ends released: the held-back fall is reported when
  /// the line has been quiet for a window, stamped with the time it fell.
  @Test func shortPressSettlesReleased() {
    var filter = EdgeFilter(edges: .both, window: .milliseconds(5), level: false)
    var counters = LineCounters()
    let passed = run(&filter, &counters, [(.rising, 0), (.falling, 1000)])
    #expect(passed == [EdgeEvent(.rising, at: us(0))])
    #expect(filter.settleDeadline == us(6000))
    let early = filter.settle(at: us(5999), &counters)
    #expect(early == nil)  // not yet
    let settled = filter.settle(at: us(6000), &counters)
    #expect(settled == EdgeEvent(.falling, at: us(1000)))
    #expect(filter.settleDeadline == nil)
    #expect(counters.debouncedAway == 0)
  }

  /// A later edge settles the earlier burst first, in timestamp order, even when the task
  /// never woke at the window's end.
  @Test func laterEdgeSettlesEarlierBurstFirst() {
    var filter = EdgeFilter(edges: .both, window: .milliseconds(5), level: false)
    var counters = LineCounters()
    let passed = run(&filter, &counters, [(.rising, 0), (.falling, 1000), (.rising, 20_000)])
    #expect(
      passed == [
        EdgeEvent(.rising, at: us(0)), EdgeEvent(.falling, at: us(1000)), EdgeEvent(.rising, at: us(20_000)),
      ])
  }

  /// Release bounces after a long press: one falling event, immediately.
  @Test func releaseBounceGivesOneFall() {
    var filter = EdgeFilter(edges: .both, window: .milliseconds(5), level: false)
    var counters = LineCounters()
    let passed = run(
      &filter, &counters, [(.rising, 0), (.falling, 500_000), (.rising, 500_200), (.falling, 500_400)])
    #expect(passed == [EdgeEvent(.rising, at: us(0)), EdgeEvent(.falling, at: us(500_000))])
    let settled = filter.settle(at: us(505_400), &counters)
    #expect(settled == nil)
    #expect(counters.debouncedAway == 2)
  }

  /// On a rising-only line debounce thins a burst: an edge within the window of the previous
  /// raw edge is dropped, and the window restarts at each.
  @Test func singleEdgeDebounceThinsBursts() {
    var filter = EdgeFilter(edges: .rising, window: .milliseconds(1), level: nil)
    var counters = LineCounters()
    let passed = run(&filter, &counters, [(.rising, 0), (.rising, 400), (.rising, 1300), (.rising, 2400)])
    #expect(passed.map(\.timestamp) == [us(0), us(2400)])
    #expect(counters.debouncedAway == 2)
    #expect(filter.settleDeadline == nil)
  }

  /// The queue keeps the oldest events and drops (and the line counts) the newest when full.
  @Test func queueDropsNewestWhenFull() {
    var queue = EdgeQueue()
    var accepted = 0
    for i in 0..<EdgeQueue.capacity where queue.push(EdgeEvent(.rising, at: us(Int64(i)))) { accepted += 1 }
    #expect(accepted == EdgeQueue.capacity)
    let full = queue.push(EdgeEvent(.falling, at: us(999)))
    #expect(!full)
    let first = queue.pop()
    #expect(first == EdgeEvent(.rising, at: us(0)))
    let again = queue.push(EdgeEvent(.falling, at: us(1000)))
    #expect(again)
    var last: EdgeEvent?
    while let event = queue.pop() { last = event }
    #expect(last == EdgeEvent(.falling, at: us(1000)))
  }
}
