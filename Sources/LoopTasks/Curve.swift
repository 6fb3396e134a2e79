// The curve: a reading mapped to a PWM duty through a table of points (a fan curve), linear
// between points and clamped at the ends, with optional hysteresis and a minimum change. It
// watches a task's readings (`ReadingBoard`) and sets a pwm task's duty (`DutyBoard`).

import LoopCore

/// A table of (reading, duty) points: linear between points, the end duties beyond them.
public struct DutyCurve: Equatable, Sendable {
  /// The most points a curve holds (the config's limit).
  public static let capacity = 8

  private var readings = InlineArray<8, Double>(repeating: 0)
  private var duties = InlineArray<8, Double>(repeating: 0)
  /// Points in use.
  public let count: Int

  /// The first `count` points of `readings` (strictly rising) and `duties` (0 to 100); nil
  /// when there are fewer than two or more than `capacity`, or they are out of order or range.
  public init?(readings: InlineArray<8, Double>, duties: InlineArray<8, Double>, count: Int) {
    guard count >= 2, count <= Self.capacity else { return nil }
    for i in 0..<count {
      guard duties[i] >= 0, duties[i] <= 100 else { return nil }
      if i > 0 { guard readings[i] > readings[i - 1] else { return nil } }
    }
    self.readings = readings
    self.duties = duties
    self.count = count
  }

  /// The duty for `reading`: interpolated between the points around it, the first or last
  /// point's duty outside them.
  public func duty(at reading: Double) -> Double {
    if !(reading > readings[0]) { return duties[0] }
    for i in 1..<count where reading <= readings[i] {
      let share = (reading - readings[i - 1]) / (readings[i] - readings[i - 1])
      return duties[i - 1] + share * (duties[i] - duties[i - 1])
    }
    return duties[count - 1]
  }

  /// The duties of the first and last points (always reached, whatever the minimum change).
  public var ends: (first: Double, last: Double) { (duties[0], duties[count - 1]) }

  public static func == (lhs: DutyCurve, rhs: DutyCurve) -> Bool {
    guard lhs.count == rhs.count else { return false }
    for i in 0..<lhs.count where lhs.readings[i] != rhs.readings[i] || lhs.duties[i] != rhs.duties[i] {
      return false
    }
    return true
  }
}

/// A curve fed with readings: the duty to set, with hysteresis and a minimum change.
///
/// Hysteresis is a dead band on the reading: a rising reading moves along the curve at once; a
/// falling one moves only once it is `hysteresis` below the highest reading since it last moved
/// (then the curve is read at the reading plus `hysteresis`). A fan speeds up as soon as it is
/// warmer, and slows down only once it is clearly cooler, so a reading that wobbles around a
/// point does not hunt. A new duty is set only when it differs from the current one by at least
/// `minChange` points, or is one of the curve's end duties (so full speed and off are reached).
public struct CurveFollower: Sendable {
  /// The curve.
  public let curve: DutyCurve
  /// The dead band on falling readings, in the reading's unit (0: none).
  public let hysteresis: Double
  /// The smallest duty change, in percentage points, that is applied (0: any change).
  public let minChange: Double
  /// The reading the curve is read at (nil before the first).
  public private(set) var input: Double?
  /// The duty last set (nil before the first reading).
  public private(set) var duty: Double?

  /// A follower of `curve` with no reading yet.
  public init(curve: DutyCurve, hysteresis: Double = 0, minChange: Double = 0) {
    precondition(
      hysteresis >= 0 && minChange >= 0, "CurveFollower.init: negative hysteresis or minimum change")
    self.curve = curve
    self.hysteresis = hysteresis
    self.minChange = minChange
  }

  /// Feeds a reading; returns the duty to set when it changes.
  public mutating func feed(_ reading: Double) -> Double? {
    var at = reading
    if let last = input {
      if reading > last {
        at = reading
      } else if reading < last - hysteresis {
        at = reading + hysteresis
      } else {
        at = last
      }
    }
    input = at
    let target = curve.duty(at: at)
    if let current = duty {
      if target == current { return nil }
      let (first, last) = curve.ends
      let difference = target > current ? target - current : current - target
      if difference < minChange && target != first && target != last { return nil }
    }
    duty = target
    return target
  }
}

/// Sets a pwm task's duty from a source task's readings through a curve.
public struct CurveRule: Sendable {
  /// The task index.
  public let index: Int
  /// The watched task's index.
  public let source: Int
  /// The driven pwm task's index.
  public let pwm: Int
  var follower: CurveFollower
  var seen: UInt64 = 0

  /// A rule setting pwm task `pwm`'s duty from task `source`'s readings.
  public init(index: Int, source: Int, pwm: Int, follower: CurveFollower) {
    self.index = index
    self.source = source
    self.pwm = pwm
    self.follower = follower
  }

  @inline(never)
  mutating func poll<S: Scheduler & ~Copyable>(_ cx: inout Context<S>, _ world: inout FirmwareWorld)
    -> Poll<Void>
  {
    let reading = world.readings.latest(source)
    if reading.sequence != seen {
      seen = reading.sequence
      if let duty = follower.feed(reading.value) {
        world.duties.set(pwm, percent: duty, &cx)
        var record = world.record(index, at: reading.time)
        record.field("event", "duty")
        record.field("value", reading.value, decimals: 3)
        record.field("duty_percent", duty, decimals: 1)
        record.finish()
        world.emit(record, task: index, &cx)
      }
    }
    world.readings.subscribe(source, &cx)
    return .pending
  }
}
