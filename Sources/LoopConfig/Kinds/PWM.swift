// The pwm kind: software PWM on an output line (slow loads: LEDs, heaters, relays).
// {"name": "dim", "kind": "pwm", "line": "led", "period_ms": 20, "duty_percent": 30}

import LoopCore
import LoopTasks

/// Software PWM on an output line (slow loads: LEDs, heaters, relays).
public struct PWMConfig: Equatable, Sendable {
  /// The output line.
  public var line: Int
  /// One on+off cycle.
  public var period: Duration
  /// The share of each period the line is on, 0 to 100 (until a rule sets another).
  public var dutyPercent: Int
}

extension PWMConfig: TaskKindDescription {
  static var name: StaticString { "pwm" }
  static var what: StaticString { "a pwm task" }
  static var keys: StaticString { "line period_ms duty_percent" }
  static var isPeriodic: Bool { true }
  /// A curve or a threshold may set its duty (from its next period).
  static var takesDuty: Bool { true }

  static func read(_ v: inout Validator, _ task: TaskObject) throws(ConfigError) -> Self {
    let line = try v.lineRef(task, "line", LineNeed(direction: .output, edges: nil))
    return PWMConfig(
      line: line, period: try v.milliseconds(task.node, "period_ms", 2...60_000, default: 20),
      dutyPercent: Int(try v.integer(task.node, "duty_percent", 0...100, default: nil, unit: "percent")))
  }

  var needs: TaskNeeds { TaskNeeds(timer: true) }

  func build(_ task: TaskBuild, _ world: inout FirmwareWorld, _ files: inout OpenFiles) throws(StartupError)
    -> FirmwareTask
  {
    .pwm(
      SoftwarePWM(index: task.index, line: line, period: period, dutyPercent: dutyPercent, start: task.start))
  }

  /// Its duty as a `number` a command sets.
  func discover(_ d: inout Discovery, _ name: [UInt8]) {
    d.add("number", name, name: name, d.dutyNumber(name))
  }
  var commandDuty: Int? { dutyPercent }
}
