// Interrupt lines: how the outside world (an fd becoming readable, a signal, another thread)
// wakes a task. The platform raises a numbered line; the core latches it as pending and wakes
// the one task waiting on it, exactly like an interrupt controller with one handler per line.

/// One of `Interrupt.capacity` interrupt lines, numbered `0..<capacity`.
///
/// A line has one handler task: a second task taking it replaces (and wakes) the first, and two
/// that keep taking it trap in a debug build. Any number of sources (fds, triggers, signals)
/// may raise one line.
public struct Interrupt: Hashable, Sendable {
  /// How many lines exist: one bit each in an `InterruptSet`.
  public static let capacity = 64

  /// The line number.
  public let number: Int

  /// Line `number`; it must be below `Interrupt.capacity` (a programmer error otherwise).
  public init(_ number: Int) {
    precondition(number >= 0 && number < Interrupt.capacity, "Interrupt(_:): line out of range")
    self.number = number
  }
}

/// A set of interrupt lines, one bit per line.
public struct InterruptSet: Equatable, Sendable {
  /// The lines as a bit mask (bit `n` is line `n`).
  public var bits: UInt64

  /// The empty set.
  public init() { bits = 0 }

  /// Whether no line is in the set.
  public var isEmpty: Bool { bits == 0 }

  /// Adds `line`.
  public mutating func insert(_ line: Interrupt) { bits |= 1 << UInt64(line.number) }

  /// Removes `line`; returns whether it was there.
  @discardableResult
  public mutating func remove(_ line: Interrupt) -> Bool {
    let mask: UInt64 = 1 << UInt64(line.number)
    defer { bits &= ~mask }
    return bits & mask != 0
  }

  /// Whether `line` is in the set.
  public func contains(_ line: Interrupt) -> Bool { bits & (1 << UInt64(line.number)) != 0 }

  /// Removes and returns the lowest-numbered line, or nil when empty.
  public mutating func popFirst() -> Interrupt? {
    if bits == 0 { return nil }
    let n = bits.trailingZeroBitCount
    bits &= bits &- 1
    return Interrupt(n)
  }
}
