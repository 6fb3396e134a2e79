// Monotonic time for the executor: an `Instant` on the board's monotonic clock and a
// `Duration` between two instants, both whole nanoseconds in an Int64 (292 years of range).
// The core never reads a clock itself; a `Platform` supplies `now()`.

/// A point on the monotonic clock (CLOCK_MONOTONIC on Linux), in nanoseconds from its origin.
public struct Instant: Comparable, Hashable, Sendable {
  /// Nanoseconds since the clock's origin.
  public var nanoseconds: Int64

  /// An instant `nanoseconds` after the clock's origin.
  public init(nanoseconds: Int64) { self.nanoseconds = nanoseconds }

  /// The clock's origin.
  public static let zero = Instant(nanoseconds: 0)
  /// An instant later than any deadline the program will reach.
  public static let distantFuture = Instant(nanoseconds: .max)

  /// Whether `lhs` is earlier.
  public static func < (lhs: Instant, rhs: Instant) -> Bool { lhs.nanoseconds < rhs.nanoseconds }

  /// The instant `duration` after `instant`, saturating at `distantFuture`.
  public static func + (instant: Instant, duration: Duration) -> Instant {
    let (sum, overflow) = instant.nanoseconds.addingReportingOverflow(duration.nanoseconds)
    return overflow ? .distantFuture : Instant(nanoseconds: sum)
  }

  /// The instant `duration` before `instant`.
  public static func - (instant: Instant, duration: Duration) -> Instant {
    Instant(nanoseconds: instant.nanoseconds &- duration.nanoseconds)
  }

  /// The time from `rhs` to `lhs` (negative when `lhs` is earlier).
  public static func - (lhs: Instant, rhs: Instant) -> Duration {
    Duration(nanoseconds: lhs.nanoseconds &- rhs.nanoseconds)
  }

  /// Moves this instant on by `duration`.
  public static func += (instant: inout Instant, duration: Duration) { instant = instant + duration }
}

/// A span of monotonic time in nanoseconds. Shadows `Swift.Duration` inside sensorloop code.
public struct Duration: Comparable, Hashable, Sendable {
  /// The length in nanoseconds (negative for a span that runs backwards).
  public var nanoseconds: Int64

  /// A duration of `nanoseconds` nanoseconds.
  public init(nanoseconds: Int64) { self.nanoseconds = nanoseconds }

  /// No time at all.
  public static let zero = Duration(nanoseconds: 0)

  /// `n` nanoseconds.
  public static func nanoseconds(_ n: Int64) -> Duration { Duration(nanoseconds: n) }
  /// `n` microseconds.
  public static func microseconds(_ n: Int64) -> Duration { Duration(nanoseconds: n * 1_000) }
  /// `n` milliseconds.
  public static func milliseconds(_ n: Int64) -> Duration { Duration(nanoseconds: n * 1_000_000) }
  /// `n` seconds.
  public static func seconds(_ n: Int64) -> Duration { Duration(nanoseconds: n * 1_000_000_000) }

  /// Whether `lhs` is shorter.
  public static func < (lhs: Duration, rhs: Duration) -> Bool { lhs.nanoseconds < rhs.nanoseconds }
  /// The sum (traps on overflow, past 292 years).
  public static func + (lhs: Duration, rhs: Duration) -> Duration {
    Duration(nanoseconds: lhs.nanoseconds + rhs.nanoseconds)
  }
  /// The difference (traps on overflow).
  public static func - (lhs: Duration, rhs: Duration) -> Duration {
    Duration(nanoseconds: lhs.nanoseconds - rhs.nanoseconds)
  }
  /// `lhs` repeated `rhs` times (traps on overflow).
  public static func * (lhs: Duration, rhs: Int64) -> Duration {
    Duration(nanoseconds: lhs.nanoseconds * rhs)
  }
  /// How many whole `rhs` fit in `lhs`.
  public static func / (lhs: Duration, rhs: Duration) -> Int64 { lhs.nanoseconds / rhs.nanoseconds }
}

/// The steps of a repeating on/off pattern (a heartbeat's blink): the one capacity the config
/// validator (`ConfigLimits.maxPatternSteps`) and the heartbeat task both read. sensorloop's
/// own (public because LoopTasks' public initialisers take it); not part of the surface to
/// build on.
public typealias PatternSteps = InlineArray<16, Duration>
