// The curve kind: a pwm task's duty follows a source's readings through a table of points (a
// fan curve), linear between points, clamped at the ends, with optional hysteresis and a
// minimum change.
// {"name": "fan_curve", "kind": "curve", "source": "soc_temp", "pwm": "fan",
//  "points": [[45, 0], [50, 30], [70, 100]], "hysteresis": 2, "min_change_percent": 5}

import LoopCore
import LoopLinux
import LoopTasks

/// One point of a curve: at `reading`, `duty` percent.
public struct CurvePoint: Equatable, Sendable {
  /// The reading, in the source's unit.
  public var reading: DecimalNumber
  /// The duty there, 0 to 100 percent.
  public var duty: DecimalNumber
}

/// A pwm task's duty set from a source's readings through a table of points.
public struct CurveConfig: Equatable, Sendable {
  /// The task whose readings are watched (a kind that makes readings).
  public var source: Int
  /// The pwm task whose duty is set.
  public var pwm: Int
  /// 2 to `DutyCurve.capacity` points, readings strictly rising.
  public var points: FixedList<8, CurvePoint>
  /// The dead band on falling readings, in the source's unit.
  public var hysteresis: DecimalNumber
  /// The smallest duty change applied, in percentage points (the end duties are always reached).
  public var minChange: DecimalNumber
}

extension CurveConfig: TaskKindDescription {
  static var name: StaticString { "curve" }
  static var what: StaticString { "a curve task" }
  static var keys: StaticString { "source pwm points hysteresis min_change_percent" }

  static func read(_ v: inout Validator, _ task: TaskObject) throws(ConfigError) -> Self {
    let element = task.node
    let source = try v.taskRef(task, "source")
    let pwm = try v.taskRef(task, "pwm")
    let points = try readPoints(&v, element)
    let hysteresis = try v.decimal(
      element, "hysteresis", from: DecimalNumber(significand: 0, exponent: 0), to: maxPositive,
      default: DecimalNumber(significand: 0, exponent: 0))
    let minChange = try v.decimal(
      element, "min_change_percent", from: DecimalNumber(significand: 0, exponent: 0),
      to: DecimalNumber(significand: 100, exponent: 0), default: DecimalNumber(significand: 0, exponent: 0))
    return CurveConfig(source: source, pwm: pwm, points: points, hysteresis: hysteresis, minChange: minChange)
  }

  /// `points`: `[[reading, duty_percent], ...]`, readings strictly rising.
  private static func readPoints(_ v: inout Validator, _ object: Int) throws(ConfigError) -> FixedList<
    8, CurvePoint
  > {
    // Made where it is thrown: an array alive across the reads below made each of them release it.
    func expected() -> [UInt8] {
      bytes(
        "an array of 2 to ", DutyCurve.capacity,
        " points [reading, duty_percent], readings rising: [[45, 0], [70, 100]]")
    }
    guard let node = v.doc.member(object, "points") else { throw v.missing(object, "points", expected()) }
    let mark = v.push("points")
    defer { v.pop(mark) }
    guard v.kind(node) == .array else { throw v.mismatch(.type, at: node, expected: expected()) }
    let count = Int(v.doc.nodes[node].a)
    guard count >= 2 && count <= DutyCurve.capacity else {
      var message: [UInt8] = []
      message.append("expected 2 to ")
      message.appendDecimal(DutyCurve.capacity)
      message.append(" points [reading, duty_percent]; found ")
      message.appendDecimal(count)
      throw v.error(count > DutyCurve.capacity ? .capacity : .range, at: node, message)
    }
    var points = FixedList<8, CurvePoint>()
    for (index, pair) in v.doc.elements(node).enumerated() {
      let inner = v.push(index: index)
      defer { v.pop(inner) }
      guard v.kind(pair) == .array && v.doc.nodes[pair].a == 2 else {
        throw v.mismatch(.type, at: pair, expected: "a point [reading, duty_percent], e.g. [45, 0]")
      }
      let parts = v.doc.elements(pair)
      let readingMark = v.push(index: 0)
      let reading = try v.readDecimal(parts[0], from: maxNegative, to: maxPositive)
      if index > 0 && reading.double <= points[index - 1].reading.double {
        var message: [UInt8] = []
        message.append("expected a reading above the previous point's (")
        points[index - 1].reading.render(into: &message)
        message.append("): a curve's readings rise; found ")
        reading.render(into: &message)
        throw v.error(.range, at: parts[0], message)
      }
      v.pop(readingMark)
      let dutyMark = v.push(index: 1)
      let duty = try v.readDecimal(
        parts[1], from: DecimalNumber(significand: 0, exponent: 0),
        to: DecimalNumber(significand: 100, exponent: 0))
      v.pop(dutyMark)
      points.append(CurvePoint(reading: reading, duty: duty))
    }
    return points
  }

  /// The source makes readings; the pwm task takes a duty and follows no other rule.
  func check(_ v: inout Validator, _ task: TaskObject) throws(ConfigError) {
    try v.checkReadingSource(task, source, rule: "a curve")
    try v.checkDutyTarget(task, pwm)
  }

  /// It waits for its source's readings only.
  var needs: TaskNeeds { TaskNeeds(timer: false) }

  func build(_ task: TaskBuild, _ world: inout FirmwareWorld, _ files: inout OpenFiles) throws(StartupError)
    -> FirmwareTask
  {
    var readings = InlineArray<8, Double>(repeating: 0)
    var duties = InlineArray<8, Double>(repeating: 0)
    for k in 0..<points.count {
      readings[k] = points[k].reading.double
      duties[k] = points[k].duty.double
    }
    guard let curve = DutyCurve(readings: readings, duties: duties, count: points.count) else {
      bug("CurveConfig.build: the validator let through a curve DutyCurve refuses")
    }
    let follower = CurveFollower(curve: curve, hysteresis: hysteresis.double, minChange: minChange.double)
    return .curve(CurveRule(index: task.index, source: source, pwm: pwm, follower: follower))
  }

  /// The duty the curve set, as a `sensor`.
  func discover(_ d: inout Discovery, _ name: [UInt8]) {
    let f = d.text(
      "\"state_topic\":\"\u{1}/\u{5}/duty\",\"value_template\":\"{{ value_json.duty_percent }}\",\"unit_of_measurement\":\"%\",\"state_class\":\"measurement\"",
      name)
    d.add("sensor", name, name: name, f)
  }
}
