// The trace recorder of the executor tests: tasks append what they did, at which virtual time,
// to the world they share; a test then asserts the exact sequence.

import LoopCore

/// One thing a task did during a poll, at a virtual time.
package struct TraceEvent: Equatable, CustomStringConvertible {
  /// What happened.
  package enum Kind: Equatable, CustomStringConvertible {
    /// The task was polled (recorded first in every poll).
    case poll
    /// A `sleep` step's deadline has passed.
    case slept
    /// A `wait` or `listen` step consumed a pending interrupt line.
    case took(Int)
    /// A `wake` step woke the named task (the wake may have been stale).
    case woke(String)
    /// A `raise` step raised a line.
    case raised(Int)
    /// A `stop` step asked the executor to stop.
    case stop
    /// A deadline request threw `CapacityError.timerQueue`.
    case timerQueueFull
    /// The task finished: its script is done and the poll returned `.ready`.
    case done

    /// The kind as the trace prints it (`took 3`).
    package var description: String {
      switch self {
      case .poll: "poll"
      case .slept: "slept"
      case .took(let line): "took \(line)"
      case .woke(let name): "woke \(name)"
      case .raised(let line): "raised \(line)"
      case .stop: "stop"
      case .timerQueueFull: "timerQueueFull"
      case .done: "done"
      }
    }
  }

  /// The virtual time of the poll.
  package var time: Instant
  /// The task's name.
  package var task: String
  /// What it did.
  package var kind: Kind

  /// An event at `time`.
  package init(_ time: Instant, _ task: String, _ kind: Kind) {
    self.time = time
    self.task = task
    self.kind = kind
  }

  /// An event at `ms` milliseconds after the clock's origin.
  package static func at(_ ms: Int64, _ task: String, _ kind: Kind) -> TraceEvent {
    TraceEvent(.zero + .milliseconds(ms), task, kind)
  }

  /// `<time> <task> <kind>`, the time in ms when whole (`500ms a slept`).
  package var description: String {
    let ns = time.nanoseconds
    let when = ns % 1_000_000 == 0 ? "\(ns / 1_000_000)ms" : "\(ns)ns"
    return "\(when) \(task) \(kind)"
  }
}

/// The world `ScriptedTask`s share: the trace they write and the wakers they wake by name.
package struct TraceWorld {
  /// Events in the order they happened.
  package var trace: [TraceEvent] = []
  /// Wakers by task name, filled in by the test after each spawn (for `Step.wake`).
  package var wakers: [String: Waker] = [:]
  /// When false, nothing is recorded (allocation tests).
  package var records = true

  /// An empty trace.
  package init() {}

  /// Appends an event.
  package mutating func record(_ time: Instant, _ task: String, _ kind: TraceEvent.Kind) {
    if records { trace.append(TraceEvent(time, task, kind)) }
  }

  /// Returns the events recorded so far and empties the trace (keeping its storage).
  package mutating func drain() -> [TraceEvent] {
    defer { trace.removeAll(keepingCapacity: true) }
    return trace
  }
}
