// The decisions of the firmware tasks, apart from their I/O: pure state machines fed with
// timestamped inputs, returning what happened. The tasks in this module wrap them with GPIO,
// timers and output; tests drive them directly with exact times.

import LoopCore

/// A logical edge on an input line, with the kernel's timestamp.
public struct EdgeSample: Equatable, Sendable {
  /// When the kernel saw the edge.
  public var time: Instant
  /// Whether the line became active (logical high after active-low inversion).
  public var rising: Bool

  /// An edge at `time`.
  public init(time: Instant, rising: Bool) {
    self.time = time
    self.rising = rising
  }
}

/// Press / release / long-press from a (debounced) button line.
public struct ButtonLogic: Sendable {
  /// What the button did.
  public enum Event: Equatable, Sendable {
    /// The button went down.
    case press
    /// The button came up after being held `held`.
    case release(held: Duration)
    /// The button has been held for the long-press time (once per press).
    case longPress
  }

  /// How long a hold counts as a long press.
  public let longPress: Duration
  /// When the current press began (nil when up).
  public private(set) var pressedAt: Instant?
  private var longReported = false

  /// A button that is up.
  public init(longPress: Duration) { self.longPress = longPress }

  /// Feeds one edge; a repeated level (a lost edge in between) is ignored.
  public mutating func edge(_ edge: EdgeSample) -> Event? {
    if edge.rising {
      guard pressedAt == nil else { return nil }
      pressedAt = edge.time
      longReported = false
      return .press
    }
    guard let start = pressedAt else { return nil }
    pressedAt = nil
    return .release(held: edge.time - start)
  }

  /// When the long press falls due, if the button is down and it has not been reported.
  @inline(never)
  public var longPressDeadline: Instant? {
    guard let start = pressedAt, !longReported else { return nil }
    return start + longPress
  }

  /// Reports the long press once its time has come.
  public mutating func check(now: Instant) -> Event? {
    guard let deadline = longPressDeadline, now >= deadline else { return nil }
    longReported = true
    return .longPress
  }
}

/// Quadrature decoding of an incremental rotary encoder's A and B lines.
public struct QuadratureDecoder: Sendable {
  /// Steps (quadrature transitions) per detent, usually 4 (or 2, 1).
  public let stepsPerDetent: Int
  /// Current A and B levels.
  public private(set) var a = false
  public private(set) var b = false
  /// Position in transitions.
  public private(set) var steps = 0
  /// Transitions that skipped a state (both lines changed): a lost edge or noise.
  public private(set) var invalid: UInt64 = 0
  private var reportedDetent = 0

  /// A decoder at rest with both lines at `a`, `b`.
  public init(stepsPerDetent: Int, a: Bool = false, b: Bool = false) {
    precondition(stepsPerDetent > 0, "QuadratureDecoder.init: steps per detent must be positive")
    self.stepsPerDetent = stepsPerDetent
    self.a = a
    self.b = b
  }

  /// The position in detents.
  public var detents: Int { reportedDetent }

  /// Feeds an edge of line A (`lineB == false`) or B; returns the detent change (+1 clockwise,
  /// −1 counter-clockwise) when the encoder comes to rest on another detent, 0 otherwise.
  public mutating func edge(lineB: Bool, level: Bool) -> Int {
    let old = state
    if lineB { b = level } else { a = level }
    let new = state
    if old == new { return 0 }  // repeated level: a lost edge on this line
    if Self.next(old) == new {
      steps += 1
    } else if Self.next(new) == old {
      steps -= 1
    } else {
      invalid += 1
      return 0
    }
    // A detent counts once the encoder is back at rest (a whole number of detents), the same
    // way in both directions, so contact chatter around a rest position reports nothing.
    guard steps % stepsPerDetent == 0 else { return 0 }
    let detent = steps / stepsPerDetent
    let change = detent - reportedDetent
    reportedDetent = detent
    return change
  }

  private var state: Int { (a ? 2 : 0) | (b ? 1 : 0) }

  /// The state after `s` going forward (A leads B): 00 → 10 → 11 → 01 → 00.
  private static func next(_ s: Int) -> Int {
    switch s {
    case 0b00: return 0b10
    case 0b10: return 0b11
    case 0b11: return 0b01
    default: return 0b00
    }
  }
}

/// Two-level hysteresis: on above `onAbove`, off below `offBelow`.
public struct Hysteresis: Sendable {
  /// The value above which the output turns on.
  public let onAbove: Double
  /// The value below which the output turns off.
  public let offBelow: Double
  /// Whether the output is on.
  public private(set) var isOn = false

  /// Off, with the two levels (`offBelow` ≤ `onAbove`).
  public init(onAbove: Double, offBelow: Double) {
    precondition(offBelow <= onAbove, "Hysteresis.init: offBelow above onAbove")
    self.onAbove = onAbove
    self.offBelow = offBelow
  }

  /// Feeds a reading; returns the new state when it changes.
  public mutating func feed(_ value: Double) -> Bool? {
    if !isOn && value > onAbove {
      isOn = true
      return true
    }
    if isOn && value < offBelow {
      isOn = false
      return false
    }
    return nil
  }
}

/// A repeating on/off blink pattern on a fixed grid.
public struct BlinkPattern: Sendable {
  /// The most steps a pattern holds (the config's `ConfigLimits.maxPatternSteps`).
  public static let capacity = PatternSteps.count

  private var steps = PatternSteps(repeating: .zero)
  /// Steps in use (on, off, on, off, ...).
  public let count: Int
  /// The step being shown.
  public private(set) var index = 0
  /// When the current step ends.
  public private(set) var next: Instant

  /// A pattern of the first `count` alternating on/off durations of `durations`, starting
  /// with on at `start`; nil when empty, too long, or with a step that is not positive.
  public init?(_ durations: PatternSteps, count: Int, start: Instant) {
    guard count > 0, count <= BlinkPattern.capacity else { return nil }
    for i in 0..<count {
      guard durations[i] > .zero else { return nil }
    }
    steps = durations
    self.count = count
    next = start + durations[0]
  }

  /// Whether the current step is an "on" step.
  public var isOn: Bool { index % 2 == 0 }

  /// Moves through every step that has ended by `now`; returns whether the level changed.
  public mutating func advance(now: Instant) -> Bool {
    let was = isOn
    while now >= next {
      index += 1
      if index == count { index = 0 }
      next += steps[index]
    }
    return was != isOn
  }
}
