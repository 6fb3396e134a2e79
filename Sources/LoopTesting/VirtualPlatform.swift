// A platform for deterministic tests: a clock that moves only when told to, and interrupt
// lines the test raises by hand or schedules at a virtual time. Blocking never blocks: a wait
// that could only end by real time passing either jumps the clock (`advancesToDeadline`) or
// traps, because in a virtual world nothing else could ever end it.

import LoopCore

/// A `Platform` whose time moves only through `advance(by:)` (or, when `advancesToDeadline` is
/// set, by jumping to the deadline or scheduled interrupt the executor waits for).
///
/// Test support: `scheduled` and `limits` are arrays (they allocate); never blocks.
public struct VirtualPlatform: Platform {
  /// The virtual time now.
  public var time: Instant
  /// Lines raised by the test, delivered at the executor's next wait.
  public var raisedLines = InterruptSet()
  /// When true, a wait with a deadline moves the clock to that deadline (or to an earlier
  /// scheduled interrupt): a simulated board that runs as fast as the host can, with no idle time.
  public var advancesToDeadline: Bool
  /// How many times the executor called `wait`.
  public private(set) var waits: UInt64 = 0
  /// Whether to append every wait's limit to `limits` (off by default: appending allocates).
  public var recordsLimits = false
  /// Every limit the executor waited with, in order, while `recordsLimits` is set.
  public private(set) var limits: [WaitLimit] = []
  /// Interrupts scheduled with `raise(_:at:)` and not yet delivered, earliest first (ties in
  /// scheduling order).
  public private(set) var scheduled: [(at: Instant, line: Interrupt)] = []

  /// A clock at `start`.
  public init(start: Instant = .zero, advancesToDeadline: Bool = false) {
    time = start
    self.advancesToDeadline = advancesToDeadline
  }

  /// Moves the clock on by `duration`.
  public mutating func advance(by duration: Duration) { time += duration }

  /// Raises `line` at the executor's next wait.
  public mutating func raise(_ line: Interrupt) { raisedLines.insert(line) }

  /// Raises `line` at the first wait that happens at or after virtual time `at`; a jumping
  /// clock (`advancesToDeadline`) stops there if that comes before the deadline it waits for.
  public mutating func raise(_ line: Interrupt, at: Instant) {
    var i = scheduled.count
    while i > 0 && scheduled[i - 1].at > at { i -= 1 }
    scheduled.insert((at, line), at: i)
  }

  /// The virtual time.
  public mutating func now() -> Instant { time }

  /// Delivers due scheduled interrupts and raised lines; never blocks (see the type).
  public mutating func wait(_ limit: WaitLimit, raised: inout InterruptSet) {
    waits += 1
    if recordsLimits { limits.append(limit) }
    deliverScheduled()
    if raisedLines.isEmpty {
      // Nothing fired yet: a real board would sleep now. Only a jumping clock can move on.
      switch limit {
      case .poll:
        break
      case .deadline(let deadline):
        guard deadline > time else { break }
        precondition(
          advancesToDeadline,
          "VirtualPlatform.wait: blocked until a deadline, but the clock only moves by advance(by:)")
        jump(limit: deadline)
      case .forever:
        precondition(
          advancesToDeadline && !scheduled.isEmpty,
          "VirtualPlatform.wait: blocked forever and nothing can raise an interrupt")
        jump(limit: .distantFuture)
      }
    }
    raised.bits |= raisedLines.bits
    raisedLines = InterruptSet()
  }

  /// Moves the clock to the earlier of `limit` and the next scheduled interrupt (delivering it).
  private mutating func jump(limit: Instant) {
    if let next = scheduled.first, next.at <= limit {
      time = max(time, next.at)
      deliverScheduled()
    } else {
      time = limit
    }
  }

  /// Moves every scheduled interrupt that is due into `raisedLines`.
  private mutating func deliverScheduled() {
    var due = 0
    while due < scheduled.count && scheduled[due].at <= time {
      raisedLines.insert(scheduled[due].line)
      due += 1
    }
    if due > 0 { scheduled.removeFirst(due) }
  }
}
