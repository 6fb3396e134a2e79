// What happens to an edge between the fd and the task: lost-edge detection, software debounce
// on kernel timestamps, and a fixed per-line queue whose overflow is counted. Pure value code
// (no system calls, no clock reads), so every decision is a function of the event timestamps
// and is tested as a deterministic trace.

import LoopCore

/// A fixed ring of edge events between a line's fd and its task. When full, the newest event
/// is dropped and counted, as the kernel's own FIFO does.
package struct EdgeQueue: Sendable {
  /// Events the queue holds: two kernel FIFOs' worth, so one full read always fits behind a
  /// task that is one batch behind.
  package static var capacity: Int { 32 }

  private var ring = Ring<32, EdgeEvent>(repeating: EdgeEvent(.rising, at: .zero))
  /// Events waiting.
  package var count: Int { ring.count }

  /// An empty queue.
  package init() {}

  /// Whether nothing waits.
  package var isEmpty: Bool { ring.isEmpty }

  /// Appends `event`; false (and nothing stored) when full.
  package mutating func push(_ event: EdgeEvent) -> Bool { ring.push(event) }

  /// Removes and returns the oldest event.
  package mutating func pop() -> EdgeEvent? { ring.pop() }
}

/// Lost-edge detection and debounce for one input, fed the raw events in fd order.
///
/// Debounce on a both-edges line is "leading edge, then settle": an edge on a quiet line is
/// passed at once (a button press costs no latency); edges within `window` of the previous raw
/// edge are held back; once the line has been quiet for `window`, its final level is reported
/// if it differs from the last one reported, stamped with the time of the edge that set it.
/// So a bounce burst gives one event, and a press shorter than the window still ends released.
/// On a single-edge line the level is unknown, so bursts are simply thinned: an edge within
/// `window` of the previous raw edge is dropped.
package struct EdgeFilter: Sendable {
  /// Which edges the kernel reports for this line.
  package let edges: EdgeDetection
  /// The debounce window (`.zero`: off).
  package let window: Duration
  /// The logical level after the last raw event, when known.
  package private(set) var rawLevel: Bool?
  /// When the last raw event happened.
  package private(set) var rawTime: Instant = .zero
  /// The logical level after the last event passed on, when known.
  package private(set) var reportedLevel: Bool?
  /// The end of the current debounce hold, when edges are being held back.
  package private(set) var holdUntil: Instant?
  /// Whether two same-direction edges in a row count as a lost edge (v1 uAPI). Off where the
  /// kernel's sequence numbers count losses exactly (v2 uAPI).
  package let guessesLoss: Bool

  /// A filter for `edges` with debounce `window`, starting from `level` when known (an input's
  /// level read when it was requested).
  package init(edges: EdgeDetection, window: Duration, level: Bool? = nil, guessesLoss: Bool = true) {
    self.edges = edges
    self.window = window
    self.guessesLoss = guessesLoss
    rawLevel = edges == .both ? level : nil
    reportedLevel = rawLevel
  }

  /// When `settle` may report a held-back level: the end of the hold, if the line's level then
  /// differs from the one reported. The task arms a timer for it.
  package var settleDeadline: Instant? {
    guard let holdUntil, edges == .both, let rawLevel, rawLevel != reportedLevel else { return nil }
    return holdUntil
  }

  /// Feeds one raw event from the fd; returns what to pass on: a level settled from an earlier
  /// burst, then this event, either or both possibly absent.
  package mutating func accept(_ event: EdgeEvent, _ counters: inout LineCounters) -> FilterOutput {
    var out = FilterOutput()
    counters.edges += 1
    // A hold that ended before this edge settles first, with the level the line had then.
    out.settled = settle(at: event.timestamp, &counters)
    if edges == .both {
      // Two edges of the same kind in a row: the one between them was lost (kernel FIFO
      // overflow, or an edge faster than the interrupt). An even number lost cannot be seen.
      if guessesLoss && rawLevel == event.edge.level { counters.lost += 1 }
      rawLevel = event.edge.level
    }
    rawTime = event.timestamp
    if window <= .zero {
      reportedLevel = rawLevel
      out.passed = event
      return out
    }
    if holdUntil != nil {
      // Still bouncing: hold back, and the line must now stay quiet for a whole window.
      holdUntil = event.timestamp + window
      counters.debouncedAway += 1
      return out
    }
    holdUntil = event.timestamp + window
    if edges == .both && reportedLevel == event.edge.level {
      // The level did not change from what the task knows (only after a lost edge).
      counters.debouncedAway += 1
      return out
    }
    reportedLevel = rawLevel
    out.passed = event
    return out
  }

  /// Ends a hold that is over at `now`: returns the line's final level as an event if it
  /// differs from the last one reported, stamped with the time of the edge that set it.
  @inline(never)
  package mutating func settle(at now: Instant, _ counters: inout LineCounters) -> EdgeEvent? {
    guard let hold = holdUntil, now >= hold else { return nil }
    holdUntil = nil
    guard edges == .both, let rawLevel, rawLevel != reportedLevel else { return nil }
    reportedLevel = rawLevel
    // This edge was counted as debounced away when it was held back; it is passed after all.
    counters.debouncedAway -= 1
    return EdgeEvent(Edge(to: rawLevel), at: rawTime)
  }
}

/// What `EdgeFilter.accept` passes on, oldest first.
package struct FilterOutput: Equatable, Sendable {
  /// A level that settled after an earlier burst.
  package var settled: EdgeEvent?
  /// The event itself, when it is passed.
  package var passed: EdgeEvent?
}
