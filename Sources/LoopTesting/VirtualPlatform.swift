// A platform for deterministic tests: a clock that moves only when told to, and interrupt
// lines the test raises by hand. Blocking never blocks.

import LoopCore

/// A `Platform` whose time moves only through `advance(by:)` (or, when `advancesToDeadline` is
/// set, by jumping to the deadline the executor waits for).
public struct VirtualPlatform: Platform {
  /// The virtual time now.
  public var time: Instant
  /// Lines raised by the test, delivered at the executor's next wait.
  public var raisedLines = InterruptSet()
  /// When true, a wait with a deadline moves the clock to that deadline: a simulated board
  /// that runs as fast as the host can, with no idle time.
  public var advancesToDeadline: Bool
  /// Every limit the executor waited with, in order (for traces of what the loop asked).
  public private(set) var waits: UInt64 = 0

  /// A clock at `start`.
  public init(start: Instant = .zero, advancesToDeadline: Bool = false) {
    time = start
    self.advancesToDeadline = advancesToDeadline
  }

  /// Moves the clock on by `duration`.
  public mutating func advance(by duration: Duration) { time += duration }

  /// Raises `line` at the executor's next wait.
  public mutating func raise(_ line: Interrupt) { raisedLines.insert(line) }

  public mutating func now() -> Instant { time }

  public mutating func wait(_ limit: WaitLimit, raised: inout InterruptSet) {
    waits += 1
    raised.bits |= raisedLines.bits
    raisedLines = InterruptSet()
    if advancesToDeadline, case .deadline(let deadline) = limit, deadline > time {
      time = deadline
    }
  }
}
