// Filters per reading: what a sensor task does to each value between the read and the record.
// Every filter is a fixed-size value (a window is an `InlineArray`), fed one timestamped value
// at a time and answering with the value to pass on or nil (dropped): no heap, no existential,
// the same in host and Embedded builds. Times are the readings' own (the tick a sample was asked
// for), so the filters run the same on a virtual clock as on the board.
//
// A chain applies its filters in order; a filter that drops a value ends that value's way. A
// heartbeat also emits on its own: `FilterChain.nextDue` says when, and `FilterChain.poll(now:)`
// sends its repeat through the filters after it.
//
// Values are `Double`, as the sampler's readings and `ReadingBoard` are; records print them with
// 3 decimals.

import LoopCore
import LoopLinux

/// The capacities of the filters.
public enum FilterLimits {
  /// The largest window of a sliding average or median.
  public static let window = 16
  /// The most filters in one chain.
  public static let chain = 6
}

/// One filter as the config describes it: the kind and its parameters, no state.
public enum FilterSpec: Equatable, Sendable {
  /// The mean of the last `window` values (fewer until the window has filled).
  case average(window: Int)
  /// The median of the last `window` values (the mean of the middle two for an even count).
  case median(window: Int)
  /// `alpha × value + (1 − alpha) × previous`, starting at the first value; 0 < alpha ≤ 1.
  case exponential(alpha: Double)
  /// At most one value per `interval`: a value within `interval` of the last passed is dropped.
  case throttle(interval: Duration)
  /// Only a value that moved by at least `minimum` from the last passed (the first passes).
  case delta(minimum: Double)
  /// Every value, and the last one again whenever `interval` passed without one.
  case heartbeat(interval: Duration)
  /// The value held to `low...high`.
  case clamp(low: Double, high: Double)
  /// Two-point linear calibration: `measured1` reads as `actual1`, `measured2` as `actual2`.
  case calibrate(measured1: Double, actual1: Double, measured2: Double, actual2: Double)

  /// Why the parameters are not valid, or nil when they are (the config layer's message).
  public var problem: StaticString? {
    switch self {
    case .average(let window), .median(let window):
      return window >= 1 && window <= FilterLimits.window ? nil : "window must be 1 to 16"
    case .exponential(let alpha):
      return alpha > 0 && alpha <= 1 ? nil : "alpha must be above 0 and at most 1"
    case .throttle(let interval), .heartbeat(let interval):
      return interval > .zero ? nil : "interval must be positive"
    case .delta(let minimum):
      return minimum >= 0 && minimum.isFinite ? nil : "minimum must be 0 or more"
    case .clamp(let low, let high):
      return low.isFinite && high.isFinite && low <= high ? nil : "low must be at most high"
    case .calibrate(let measured1, let actual1, let measured2, let actual2):
      guard measured1.isFinite && actual1.isFinite && measured2.isFinite && actual2.isFinite else {
        return "calibration points must be finite"
      }
      return measured1 != measured2 ? nil : "the two measured points must differ"
    }
  }

  /// The name the config gives the kind.
  public var name: StaticString {
    switch self {
    case .average: "average"
    case .median: "median"
    case .exponential: "exponential"
    case .throttle: "throttle"
    case .delta: "delta"
    case .heartbeat: "heartbeat"
    case .clamp: "clamp"
    case .calibrate: "calibrate"
    }
  }
}

/// The last `window` values, oldest overwritten first.
public struct ValueWindow: Sendable {
  private var values = InlineArray<16, Double>(repeating: 0)
  /// The window's size.
  public let size: Int
  /// Values held (at most `size`).
  public private(set) var count = 0
  private var next = 0

  /// An empty window of `size` values (1 to `FilterLimits.window`).
  public init(size: Int) {
    precondition(size >= 1 && size <= FilterLimits.window, "ValueWindow.init: size")
    self.size = size
  }

  /// Adds `value`, dropping the oldest when full.
  public mutating func push(_ value: Double) {
    values[next] = value
    next = next + 1 == size ? 0 : next + 1
    if count < size { count += 1 }
  }

  /// The value `i` places from the oldest held (0 ..< count).
  public subscript(i: Int) -> Double {
    precondition(i >= 0 && i < count, "ValueWindow.subscript: index")
    let start = count < size ? 0 : next
    let at = start + i
    return values[at >= size ? at - size : at]
  }
}

/// The mean of the last `window` values. The sum is taken afresh each time (at most 16 adds), so
/// no rounding error builds up over a long run.
public struct WindowAverage: Sendable {
  var window: ValueWindow

  /// An average over `window` values.
  public init(window: Int) { self.window = ValueWindow(size: window) }

  /// Adds `value`; returns the mean of the window.
  public mutating func feed(_ value: Double) -> Double {
    window.push(value)
    var sum = 0.0
    for i in 0..<window.count { sum += window[i] }
    return sum / Double(window.count)
  }
}

/// The median of the last `window` values: one wild reading (a bus glitch) does not move it.
public struct WindowMedian: Sendable {
  var window: ValueWindow

  /// A median over `window` values.
  public init(window: Int) { self.window = ValueWindow(size: window) }

  /// Adds `value`; returns the median of the window.
  public mutating func feed(_ value: Double) -> Double {
    window.push(value)
    var sorted = InlineArray<16, Double>(repeating: 0)
    let n = window.count
    // Insertion sort: at most 16 values, no heap.
    for i in 0..<n {
      let v = window[i]
      var j = i
      while j > 0 && sorted[j - 1] > v {
        sorted[j] = sorted[j - 1]
        j -= 1
      }
      sorted[j] = v
    }
    return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2
  }
}

/// An exponential moving average: `alpha × value + (1 − alpha) × previous`.
public struct ExponentialAverage: Sendable {
  /// The weight of the newest value.
  public let alpha: Double
  /// The current average (nil before the first value).
  public private(set) var current: Double?

  /// An average with weight `alpha` (0 < alpha ≤ 1).
  public init(alpha: Double) {
    precondition(alpha > 0 && alpha <= 1, "ExponentialAverage.init: alpha")
    self.alpha = alpha
  }

  /// Adds `value`; returns the new average (the first value as it is).
  public mutating func feed(_ value: Double) -> Double {
    let next = current.map { alpha * value + (1 - alpha) * $0 } ?? value
    current = next
    return next
  }
}

/// Passes at most one value per interval.
public struct Throttle: Sendable {
  /// The shortest time between two values passed.
  public let interval: Duration
  /// When the last value passed (nil: none yet).
  public private(set) var lastPassed: Instant?

  /// A throttle of `interval`.
  public init(interval: Duration) { self.interval = interval }

  /// Whether `value` at `time` passes (it does when `interval` has passed since the last one).
  public mutating func feed(_ value: Double, at time: Instant) -> Double? {
    if let last = lastPassed, time - last < interval { return nil }
    lastPassed = time
    return value
  }
}

/// Passes a value only when it moved by at least `minimum` from the last value passed (so a slow
/// drift still comes through once it adds up).
public struct DeltaFilter: Sendable {
  /// The smallest change passed.
  public let minimum: Double
  /// The last value passed (nil: none yet).
  public private(set) var lastPassed: Double?

  /// A delta filter of `minimum` (0 passes every change, and drops exact repeats).
  public init(minimum: Double) { self.minimum = minimum }

  /// `value` when it moved enough, else nil.
  public mutating func feed(_ value: Double) -> Double? {
    if let last = lastPassed {
      let change = value > last ? value - last : last - value
      if minimum == 0 ? change == 0 : change < minimum { return nil }
    }
    lastPassed = value
    return value
  }
}

/// Passes every value and repeats the last one whenever `interval` passed without a value: a
/// consumer behind a delta filter still hears from a steady sensor.
public struct HeartbeatFilter: Sendable {
  /// The longest quiet time.
  public let interval: Duration
  /// The last value passed or repeated (nil: none yet, so nothing to repeat).
  public private(set) var last: Double?
  /// When the next repeat is due (meaningful once `last` is set).
  public private(set) var due: Instant = .distantFuture

  /// A heartbeat of `interval`.
  public init(interval: Duration) { self.interval = interval }

  /// Passes `value` and restarts the quiet time at `time`.
  public mutating func feed(_ value: Double, at time: Instant) -> Double {
    last = value
    due = time + interval
    return value
  }

  /// The repeat of the last value if it is due at `now` (the next one then falls `interval`
  /// later, on the grid, so a late poll does not shift later repeats).
  public mutating func poll(now: Instant) -> (value: Double, time: Instant)? {
    guard let value = last, now >= due else { return nil }
    let time = due
    due = due + interval
    // A poll that comes more than one interval late repeats once, not once per missed interval.
    if due <= now { due = now + interval }
    return (value, time)
  }
}

/// Holds values to `low...high`.
public struct Clamp: Sendable {
  /// The lowest value passed.
  public let low: Double
  /// The highest value passed.
  public let high: Double

  /// A clamp to `low...high` (low ≤ high).
  public init(low: Double, high: Double) {
    precondition(low <= high, "Clamp.init: low above high")
    self.low = low
    self.high = high
  }

  /// `value` held to the range.
  public func apply(_ value: Double) -> Double { value < low ? low : value > high ? high : value }
}

/// Two-point linear calibration: the line through (measured1, actual1) and (measured2, actual2).
public struct Calibration: Sendable {
  /// The slope.
  public let gain: Double
  /// The value a measured 0 reads as.
  public let intercept: Double

  /// The line through the two points (the measured values must differ).
  public init(measured1: Double, actual1: Double, measured2: Double, actual2: Double) {
    precondition(measured1 != measured2, "Calibration.init: the measured points are equal")
    gain = (actual2 - actual1) / (measured2 - measured1)
    intercept = actual1 - gain * measured1
  }

  /// The calibrated `value`.
  public func apply(_ value: Double) -> Double { gain * value + intercept }
}

/// One filter with its state.
public enum Filter: Sendable {
  case average(WindowAverage)
  case median(WindowMedian)
  case exponential(ExponentialAverage)
  case throttle(Throttle)
  case delta(DeltaFilter)
  case heartbeat(HeartbeatFilter)
  case clamp(Clamp)
  case calibrate(Calibration)

  /// A fresh filter for `spec`, whose parameters must be valid (`spec.problem == nil`).
  public init(_ spec: FilterSpec) {
    if spec.problem != nil { bug("Filter.init: invalid parameters (check FilterSpec.problem)") }
    switch spec {
    case .average(let window): self = .average(WindowAverage(window: window))
    case .median(let window): self = .median(WindowMedian(window: window))
    case .exponential(let alpha): self = .exponential(ExponentialAverage(alpha: alpha))
    case .throttle(let interval): self = .throttle(Throttle(interval: interval))
    case .delta(let minimum): self = .delta(DeltaFilter(minimum: minimum))
    case .heartbeat(let interval): self = .heartbeat(HeartbeatFilter(interval: interval))
    case .clamp(let low, let high): self = .clamp(Clamp(low: low, high: high))
    case .calibrate(let m1, let a1, let m2, let a2):
      self = .calibrate(Calibration(measured1: m1, actual1: a1, measured2: m2, actual2: a2))
    }
  }

  /// Feeds `value` taken at `time`; returns what to pass on, nil when the filter drops it.
  public mutating func feed(_ value: Double, at time: Instant) -> Double? {
    switch self {
    case .average(var f):
      defer { self = .average(f) }
      return f.feed(value)
    case .median(var f):
      defer { self = .median(f) }
      return f.feed(value)
    case .exponential(var f):
      defer { self = .exponential(f) }
      return f.feed(value)
    case .throttle(var f):
      defer { self = .throttle(f) }
      return f.feed(value, at: time)
    case .delta(var f):
      defer { self = .delta(f) }
      return f.feed(value)
    case .heartbeat(var f):
      defer { self = .heartbeat(f) }
      return f.feed(value, at: time)
    case .clamp(let f):
      return f.apply(value)
    case .calibrate(let f):
      return f.apply(value)
    }
  }
}

/// Why a chain was refused: the filter at `index` and what is wrong with it.
public struct FilterChainError: Error, Equatable, Sendable {
  /// The filter's position in the chain (`filters[index]` in the config), or `FilterLimits.chain`
  /// when the chain is too long.
  public var index: Int
  /// What is wrong.
  public var message: StaticString

  public static func == (lhs: FilterChainError, rhs: FilterChainError) -> Bool {
    lhs.index == rhs.index && sameText(lhs.message, rhs.message)
  }
}

/// Up to `FilterLimits.chain` filters applied in order to one reading's values.
public struct FilterChain: Sendable {
  private var filters = InlineArray<6, Filter>(first: .clamp(Clamp(low: 0, high: 0))) { $0 }
  /// Filters in the chain.
  public private(set) var count = 0

  /// An empty chain: every value passes as it is.
  public init() {}

  /// A chain of `specs[0..<count]`, checked: the first invalid filter is the error.
  @inline(never)
  public init(_ specs: InlineArray<6, FilterSpec>, count: Int) throws(FilterChainError) {
    guard count >= 0 && count <= FilterLimits.chain else {
      throw FilterChainError(index: FilterLimits.chain, message: "at most 6 filters per reading")
    }
    for i in 0..<count {
      if let problem = specs[i].problem { throw FilterChainError(index: i, message: problem) }
      filters[i] = Filter(specs[i])
    }
    self.count = count
  }

  /// Feeds `value` taken at `time` through every filter; the value to report, or nil when a
  /// filter dropped it.
  public mutating func feed(_ value: Double, at time: Instant) -> Double? {
    feed(value, at: time, from: 0)
  }

  private mutating func feed(_ value: Double, at time: Instant, from first: Int) -> Double? {
    var current = value
    var i = first
    while i < count {
      guard let next = filters[i].feed(current, at: time) else { return nil }
      current = next
      i += 1
    }
    return current
  }

  /// When the earliest heartbeat falls due (nil: no heartbeat has a value to repeat).
  @inline(never)
  public var nextDue: Instant? {
    var earliest: Instant? = nil
    for i in 0..<count {
      guard case .heartbeat(let beat) = filters[i], beat.last != nil else { continue }
      if earliest == nil || beat.due < earliest! { earliest = beat.due }
    }
    return earliest
  }

  /// The first heartbeat due at `now` repeats its value through the filters after it: the value
  /// to report and the time it stands for (the heartbeat's due time), or nil when none is due
  /// or a later filter dropped the repeat. Call again while `nextDue` is at or before `now`.
  public mutating func poll(now: Instant) -> (value: Double, time: Instant)? {
    for i in 0..<count {
      guard case .heartbeat(var beat) = filters[i] else { continue }
      let repeated = beat.poll(now: now)
      filters[i] = .heartbeat(beat)
      guard let repeated else { continue }
      guard let value = feed(repeated.value, at: repeated.time, from: i + 1) else { return nil }
      return (value, repeated.time)
    }
    return nil
  }
}

/// Whether two literals hold the same bytes (errors compare their messages).
func sameText(_ a: StaticString, _ b: StaticString) -> Bool {
  guard a.utf8CodeUnitCount == b.utf8CodeUnitCount else { return false }
  for i in 0..<a.utf8CodeUnitCount where a.utf8Start[i] != b.utf8Start[i] { return false }
  return true
}
