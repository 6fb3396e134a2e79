// Periodic wake-ups on a fixed grid (start + k·period), so a 1 kHz loop does not drift by the
// few microseconds each wake is late. What happens after a stall is the caller's choice.

/// What a `Ticker` does with ticks whose time passed while the task could not run.
public enum MissedTickPolicy: Equatable, Sendable {
  /// Deliver every overdue tick, one after another, as fast as the task polls (catch up).
  case burst
  /// Drop overdue ticks (counted as missed) and stay on the original grid.
  case skip
  /// Drop overdue ticks (counted as missed) and restart the grid from the late tick's time.
  case delay
}

/// One tick: when it was due and how late it came.
public struct Tick: Equatable, Sendable {
  /// The grid point this tick stands for.
  public var scheduled: Instant
  /// How long after `scheduled` the task saw it.
  public var lateness: Duration
}

/// A periodic timer on a fixed grid.
///
/// Poll it in a loop until it returns `.pending` (which arms the task's timer):
/// ```
/// while case .ready(let tick) = try ticker.poll(&cx) { sample(at: tick.scheduled) }
/// ```
///
/// Holds the task's one timer slot while pending; never blocks or allocates.
public struct Ticker: Sendable {
  /// The grid spacing.
  public let period: Duration
  /// What to do with overdue ticks.
  public let policy: MissedTickPolicy
  /// The next grid point to deliver.
  public private(set) var next: Instant
  /// Ticks dropped by `.skip` or `.delay` because they were overdue.
  public private(set) var missed: UInt64 = 0
  /// Ticks delivered.
  public private(set) var delivered: UInt64 = 0

  /// A ticker whose first tick is due at `first` (often `now + period`). `period` must be > 0.
  public init(period: Duration, first: Instant, policy: MissedTickPolicy = .skip) {
    precondition(period > .zero, "Ticker.init: period must be positive")
    self.period = period
    self.policy = policy
    self.next = first
  }

  /// `.ready` with the due tick, or `.pending` with the task's timer armed for the next one.
  public mutating func poll<S: Scheduler & ~Copyable>(_ cx: inout Context<S>)
    throws(CapacityError) -> Poll<Tick>
  {
    let now = cx.now
    if now < next {
      try cx.wake(at: next)
      return .pending
    }
    let tick = Tick(scheduled: next, lateness: now - next)
    // Grid points after `next` that have also passed.
    let overdue = (now - next) / period
    switch policy {
    case .burst:
      next += period
    case .skip:
      missed += UInt64(overdue)
      next += period * (overdue + 1)
    case .delay:
      missed += UInt64(overdue)
      next = now + period
    }
    delivered += 1
    return .ready(tick)
  }
}
