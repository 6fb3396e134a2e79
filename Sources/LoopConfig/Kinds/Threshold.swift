// The threshold kind: drives an output on when a source task's reading rises above
// `on_above`, off when it falls below `off_below` (hysteresis). The output is a line, or a pwm
// task's duty (`duty_on` when on, `duty_off` when off).
// {"name": "fan", "kind": "threshold", "source": "soc_temp", "line": "fan", "on_above": 65, "off_below": 55}
// {"name": "fan", "kind": "threshold", "source": "soc_temp", "pwm": "fan_pwm", "on_above": 65, "duty_on": 80}

import LoopCore
import LoopTasks

/// Drives an output on when a source reading rises above `onAbove`, off when it falls
/// below `offBelow` (hysteresis).
public struct ThresholdConfig: Equatable, Sendable {
  /// The task whose readings are watched (a kind that makes readings: a sampler, pulse
  /// counter or encoder).
  public var source: Int
  /// The output line, or nil when it drives a pwm task's duty.
  public var line: Int?
  /// The pwm task whose duty it sets, or nil when it drives a line.
  public var pwm: Int?
  /// The duty in percent while on (with `pwm`).
  public var dutyOn: DecimalNumber
  /// The duty in percent while off (with `pwm`).
  public var dutyOff: DecimalNumber
  /// The output turns on when a reading exceeds this.
  public var onAbove: DecimalNumber
  /// The output turns off when a reading falls below this (at most `onAbove`).
  public var offBelow: DecimalNumber
}

extension ThresholdConfig: TaskKindDescription {
  static var name: StaticString { "threshold" }
  static var what: StaticString { "a threshold task" }
  static var keys: StaticString { "source line pwm on_above off_below duty_on duty_off" }

  static func read(_ v: inout Validator, _ task: TaskObject) throws(ConfigError) -> Self {
    let element = task.node
    let source = try v.taskRef(task, "source")
    var line: Int? = nil
    var pwm: Int? = nil
    let zero = DecimalNumber(significand: 0, exponent: 0)
    let hundred = DecimalNumber(significand: 100, exponent: 0)
    if v.doc.member(element, "pwm") != nil {
      if v.doc.member(element, "line") != nil {
        throw v.error(
          .conflict, atKey: "pwm", of: element,
          "a threshold drives either \"line\" (an output line) or \"pwm\" (a pwm or pwm_hw task's duty), not both"
        )
      }
      pwm = try v.taskRef(task, "pwm")
    } else {
      line = try v.lineRef(task, "line", LineNeed(direction: .output, edges: nil))
      // The first duty key given (not a loop over an array of the two keys).
      let dutyKey: StaticString? =
        v.doc.member(element, "duty_on") != nil
        ? "duty_on" : v.doc.member(element, "duty_off") != nil ? "duty_off" : nil
      if let dutyKey {
        throw v.error(
          .conflict, atKey: dutyKey, of: element,
          "a duty applies with \"pwm\" (a pwm or pwm_hw task), not with \"line\"")
      }
    }
    let dutyOn = try v.decimal(element, "duty_on", from: zero, to: hundred, default: hundred)
    let dutyOff = try v.decimal(element, "duty_off", from: zero, to: hundred, default: zero)
    let onAbove = try v.decimal(element, "on_above", from: maxNegative, to: maxPositive, default: nil)
    let offBelow = try v.decimal(element, "off_below", from: maxNegative, to: maxPositive, default: onAbove)
    if offBelow.double > onAbove.double, v.doc.member(element, "off_below") != nil {
      var expected: [UInt8] = []
      expected.append("a number no higher than on_above (")
      onAbove.render(into: &expected)
      expected.append(")")
      throw v.mismatch(.range, atKey: "off_below", of: element, expected: expected)
    }
    return ThresholdConfig(
      source: source, line: line, pwm: pwm, dutyOn: dutyOn, dutyOff: dutyOff, onAbove: onAbove,
      offBelow: offBelow)
  }

  /// The source (possibly further down) makes readings, and notifies at most
  /// `ConfigLimits.maxWatchersPerSource` thresholds and curves; a pwm task takes a duty.
  func check(_ v: inout Validator, _ task: TaskObject) throws(ConfigError) {
    try v.checkReadingSource(task, source, rule: "a threshold")
    if let pwm { try v.checkDutyTarget(task, pwm) }
  }

  /// It waits for its source's readings only.
  var needs: TaskNeeds { TaskNeeds(timer: false) }

  func build(_ task: TaskBuild, _ world: inout FirmwareWorld, _ files: inout OpenFiles) throws(StartupError)
    -> FirmwareTask
  {
    let target: ThresholdSwitch.Target
    if let pwm {
      target = .duty(pwm: pwm, on: dutyOn.double, off: dutyOff.double)
    } else {
      target = .line(line!)
    }
    return .threshold(
      ThresholdSwitch(
        index: task.index, source: source, target: target, onAbove: onAbove.double, offBelow: offBelow.double)
    )
  }

  /// Its state as a `binary_sensor`.
  func discover(_ d: inout Discovery, _ name: [UInt8]) {
    d.binarySensor(name)
  }
}
