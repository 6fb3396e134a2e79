// The pulse_counter kind: counts pulses on an input and reports count and rate per window
// (anemometer, flow meter, energy meter).
// {"name": "wind", "kind": "pulse_counter", "line": "wind", "window_ms": 3000, "scale": 2.4, "unit": "km/h"}

import LoopCore
import LoopGPIO
import LoopTasks

/// Counts pulses and reports the count and rate per window (anemometer, flow, energy meter).
public struct PulseCounterConfig: Equatable, Sendable {
  /// The input line.
  public var line: Int
  /// Which edges count as pulses: rising, falling or both.
  public var edge: EdgeDetection
  /// The reporting window.
  public var window: Duration
  /// The reported value is pulses per second × `scale` (2.4 for an anemometer in km/h).
  public var scale: DecimalNumber
  /// The reported value's unit.
  public var unit: Unit
}

extension PulseCounterConfig: TaskKindDescription {
  static var name: StaticString { "pulse_counter" }
  static var what: StaticString { "a pulse_counter task" }
  static var keys: StaticString { "line edge window_ms scale unit" }
  static var makesReadings: Bool { true }
  static var isPeriodic: Bool { true }

  static func read(_ v: inout Validator, _ task: TaskObject) throws(ConfigError) -> Self {
    let element = task.node
    let edgeIndex = try v.choice(element, "edge", "rising falling both", default: 0)
    let edge = EdgeDetection(rawValue: UInt8(edgeIndex))!
    let line = try v.lineRef(task, "line", LineNeed(direction: .input, edges: edge))
    return PulseCounterConfig(
      line: line, edge: edge,
      window: try v.milliseconds(element, "window_ms", 10...3_600_000, default: 1000),
      scale: try v.decimal(
        element, "scale", from: maxNegative, to: maxPositive, default: .one, nonZero: true),
      unit: try v.text(element, "unit", allowEmpty: true, default: Unit("Hz")))
  }

  var needs: TaskNeeds { TaskNeeds(timer: true) }

  func build(_ task: TaskBuild, _ world: inout FirmwareWorld, _ files: inout OpenFiles) throws(StartupError)
    -> FirmwareTask
  {
    .pulseCounter(
      PulseCounter(
        index: task.index, line: line, window: window, scale: scale.double, unit: ShortName(unit),
        start: task.start))
  }

  /// A `sensor` with the counter's unit.
  func discover(_ d: inout Discovery, _ name: [UInt8]) {
    d.add("sensor", name, name: name, d.sensorFields(name, unit.bytes))
  }
}
