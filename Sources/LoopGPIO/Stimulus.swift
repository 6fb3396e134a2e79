// Scripted stimuli for mock inputs (tests and the simulated board): an edge at a time, a pulse
// train at a frequency and duty cycle, a bounce burst, a quadrature sequence on two lines. The
// k-th transition of every script is computed in closed form from its start, so a long train
// never drifts. The driver writes every transition due up to `now` in one go, each stamped
// with its exact scheduled time: a 50 kHz train needs one wake per batch, not one per edge.

import LoopCore

/// A script of physical level changes on mock input ports (indices into a `StimulusDriver`).
public enum Stimulus: Equatable, Sendable {
  /// Port `port` goes to physical level `high` at `at`: one edge.
  case level(port: Int, at: Instant, high: Bool)
  /// `count` pulses on `port` from `start` at `hertz`, each high for `dutyPercent` of its
  /// period: the pin leaves its idle level at `start + k/hertz` and returns a duty later (on a
  /// pin idling low: a rising then a falling edge; on a pulled-up pin: a falling then a rising).
  case pulses(port: Int, start: Instant, hertz: Int64, dutyPercent: Int64, count: Int64)
  /// A bouncing contact on `port` from `start`: it reaches `high`, bounces back `bounces`
  /// times, one transition every `spacing`, and settles at `high` (2 * bounces + 1 transitions).
  case bounce(port: Int, start: Instant, high: Bool, bounces: Int, spacing: Duration)
  /// A quadrature encoder on ports `a` and `b` from `start`: `abs(steps)` Gray-code steps at
  /// `stepsPerSecond`, A leading when `steps > 0`, B leading when `steps < 0`: each step flips
  /// the leading then the lagging pin, so from both pins low or both high (the rest positions)
  /// the sequence runs in the direction asked and is back at rest after every fourth step.
  case quadrature(a: Int, b: Int, start: Instant, stepsPerSecond: Int64, steps: Int64)

  /// How many level changes the script makes.
  public var transitions: Int64 {
    switch self {
    case .level: 1
    case .pulses(_, _, _, _, let count): count > Int64.max / 2 ? Int64.max : count * 2
    case .bounce(_, _, _, let bounces, _): Int64(bounces) * 2 + 1
    case .quadrature(_, _, _, _, let steps):
      steps.magnitude > UInt64(Int64.max) ? Int64.max : Int64(steps.magnitude)
    }
  }

  /// The `k`-th level change: when, on which port, to which level.
  @inline(never)
  public func transition(_ k: Int64) -> Transition {
    switch self {
    case .level(let port, let at, let high):
      return Transition(time: at, port: port, high: high)
    case .pulses(let port, let start, let hertz, let duty, _):
      let rise = start + Self.offset(k / 2, perSecond: hertz)
      if k % 2 == 0 { return Transition(time: rise, port: port, high: true, toggles: true) }
      let high = Duration(nanoseconds: 1_000_000_000 * duty / (100 * hertz))
      return Transition(time: rise + high, port: port, high: false, toggles: true)
    case .bounce(let port, let start, let high, _, let spacing):
      return Transition(time: start + spacing * k, port: port, high: k % 2 == 0 ? high : !high)
    case .quadrature(let a, let b, let start, let rate, let steps):
      // Forward (A leads): A rises, B rises, A falls, B falls. Reverse swaps the pins.
      let phase = k % 4
      let lead = steps >= 0 ? a : b
      let lag = steps >= 0 ? b : a
      return Transition(
        time: start + Self.offset(k, perSecond: rate), port: phase % 2 == 0 ? lead : lag, high: phase < 2,
        toggles: true)
    }
  }

  /// The time of the `index`-th of `rate` evenly spaced events per second, exact to the
  /// nanosecond and without overflow for any index a board reaches.
  static func offset(_ index: Int64, perSecond rate: Int64) -> Duration {
    let seconds = index / rate
    let rest = index % rate
    return Duration(nanoseconds: seconds * 1_000_000_000 + rest * 1_000_000_000 / rate)
  }
}

/// One level change a stimulus makes.
public struct Transition: Equatable, Sendable {
  /// When (the timestamp the edge carries).
  public var time: Instant
  /// The port index in the driver.
  public var port: Int
  /// The physical level after the change (for a toggle: when the pin started low).
  public var high: Bool
  /// Whether the change flips the pin from whatever level it has, so pulse trains and
  /// quadrature sequences start from the pin's idle level (a pull-up idles high).
  public var toggles: Bool

  /// A change of `port` to `high` at `time` (or a flip, when `toggles`).
  public init(time: Instant, port: Int, high: Bool, toggles: Bool = false) {
    self.time = time
    self.port = port
    self.high = high
    self.toggles = toggles
  }
}

/// Why a stimulus or port was not taken.
public enum StimulusError: Error, Equatable, Sendable {
  /// The driver holds `portCapacity` ports.
  case portsFull
  /// The driver runs `scriptCapacity` scripts.
  case scriptsFull
  /// A script names a port the driver does not have, or has a rate or count that is not
  /// positive.
  case invalidScript
}

/// Plays stimuli on mock input ports: writes every transition due up to `now`, with its
/// scheduled timestamp, in one write per port.
///
/// Run it as a task: each poll delivers what is due and sleeps until the next transition (but
/// at least `granularity`, to bound the wake rate of fast trains); the poll is `.ready` once
/// every script has finished.
///
/// Holds `portCapacity` ports and `scriptCapacity` running scripts inline (more is a
/// `StimulusError`); writes to the ports' pipes never block; never allocates.
public struct StimulusDriver<let portCapacity: Int, let scriptCapacity: Int>: ~Copyable {
  private var ports: InlineArray<portCapacity, SimulatedInputPort?> = InlineArray(first: nil) { _ in nil }
  private var portCount = 0
  private var scripts = InlineArray<scriptCapacity, Script?>(first: nil) { $0 }
  /// One past the highest slot in use: the scans stop there, not at `scriptCapacity`.
  private var scriptEnd = 0
  /// The shortest sleep between two deliveries (`.zero`: wake for each due transition).
  public var granularity: Duration = .zero
  /// The most transitions one delivery applies; the rest wait for the next poll, so a driver
  /// far behind (a train faster than the loop) still lets the other tasks run between batches.
  public var transitionsPerDelivery = 256
  /// Level changes applied so far.
  public private(set) var transitions: UInt64 = 0
  /// Deliveries that wrote something.
  public private(set) var deliveries: UInt64 = 0

  /// A driver with no ports and no scripts.
  public init() {}

  /// Adds `port` and returns its index, which scripts name.
  public mutating func add(_ port: consuming SimulatedInputPort) throws(StimulusError) -> Int {
    guard portCount < portCapacity else { throw .portsFull }
    ports[portCount] = .some(port)
    portCount += 1
    return portCount - 1
  }

  /// Ports added.
  public var count: Int { portCount }

  /// The counters of port `index`.
  public func counters(_ index: Int) -> SimulatedPortCounters {
    precondition(index >= 0 && index < portCount, "StimulusDriver.counters: no such port")
    return ports[index]!.counters
  }

  /// The physical level of port `index`.
  public func level(_ index: Int) -> Bool {
    precondition(index >= 0 && index < portCount, "StimulusDriver.level: no such port")
    return ports[index]!.level
  }

  /// Starts `stimulus`.
  public mutating func schedule(_ stimulus: Stimulus) throws(StimulusError) {
    guard isValid(stimulus) else { throw .invalidScript }
    var slot = 0
    while slot < scriptCapacity, case .some = scripts[slot] { slot += 1 }
    guard slot < scriptCapacity else { throw .scriptsFull }
    scripts[slot] = Script(stimulus: stimulus, next: 0, due: stimulus.transition(0).time)
    scriptEnd = max(scriptEnd, slot + 1)
  }

  /// Whether no script is left.
  public var isFinished: Bool { nextDue == nil }

  /// When the next transition is due, if any script is left.
  public var nextDue: Instant? {
    var earliest: Instant?
    for i in 0..<scriptEnd {
      guard let script = scripts[i] else { continue }
      if earliest == nil || script.due < earliest! { earliest = script.due }
    }
    return earliest
  }

  /// Applies the transitions due at or before `now` (at most `transitionsPerDelivery`), in
  /// time order (ties: the script scheduled first), and writes them; returns when the next one
  /// is due (possibly already).
  @discardableResult
  public mutating func deliver(upTo now: Instant) -> Instant? {
    let before = transitions
    var budget = transitionsPerDelivery
    while budget > 0 {
      budget -= 1
      var pick = -1
      var pickDue = now
      for i in 0..<scriptEnd {
        guard let script = scripts[i], script.due <= pickDue else { continue }
        if pick < 0 || script.due < pickDue {
          pick = i
          pickDue = script.due
        }
      }
      if pick < 0 { break }
      var script = scripts[pick]!
      let change = script.stimulus.transition(script.next)
      if let level = ports[change.port]?.level {
        ports[change.port]?.queue(change.toggles ? !level : change.high, at: change.time)
      }
      transitions += 1
      script.next += 1
      if script.next >= script.stimulus.transitions {
        scripts[pick] = nil
        while scriptEnd > 0, case .none = scripts[scriptEnd - 1] { scriptEnd -= 1 }
      } else {
        script.due = script.stimulus.transition(script.next).time
        scripts[pick] = script
      }
    }
    if transitions != before {
      deliveries += 1
      for i in 0..<portCount { ports[i]?.flush() }
    }
    return nextDue
  }

  /// The driver as a task: delivers what is due and sleeps until the next transition (at
  /// least `granularity` from now); `.ready` when every script has finished.
  public mutating func poll<S: Scheduler & ~Copyable>(_ cx: inout Context<S>) throws(CapacityError)
    -> Poll<Void>
  {
    let now = cx.now
    guard let next = deliver(upTo: now) else { return .ready(()) }
    let earliest = now + granularity
    try cx.wake(at: next > earliest ? next : earliest)
    return .pending
  }

  private func isValid(_ stimulus: Stimulus) -> Bool {
    let ports = 0..<portCount
    switch stimulus {
    case .level(let port, _, _): return ports.contains(port)
    case .pulses(let port, _, let hertz, let duty, let count):
      return ports.contains(port) && hertz > 0 && duty > 0 && duty < 100 && count > 0
    case .bounce(let port, _, _, let bounces, let spacing):
      return ports.contains(port) && bounces >= 0 && spacing > .zero
    case .quadrature(let a, let b, _, let rate, let steps):
      return ports.contains(a) && ports.contains(b) && a != b && rate > 0 && steps != 0
    }
  }
}

/// A running stimulus: its next transition's index and time.
struct Script: Equatable, Sendable {
  var stimulus: Stimulus
  var next: Int64
  var due: Instant
}
