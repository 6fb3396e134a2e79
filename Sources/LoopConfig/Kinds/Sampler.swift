// The sampler kind: reads a number from a file every period (value = raw × scale + offset),
// through the worker threads, so a slow read never blocks the loop.
// {"name": "soc_temp", "kind": "sampler", "path": "/sys/class/thermal/thermal_zone0/temp", "scale": 0.001}

import LoopCore
import LoopTasks

/// Reads a number from a file every period: value = raw × scale + offset.
public struct SamplerConfig: Equatable, Sendable {
  /// The file (absolute path), e.g. `/sys/class/thermal/thermal_zone0/temp`.
  public var path: Path
  /// How often it is read.
  public var period: Duration
  /// Multiplies the raw number (0.001 for millidegrees to °C).
  public var scale: DecimalNumber
  /// Added after scaling.
  public var offset: DecimalNumber
  /// The reported value's unit.
  public var unit: Unit
}

extension SamplerConfig: TaskKindDescription {
  static var name: StaticString { "sampler" }
  static var what: StaticString { "a sampler task" }
  static var keys: StaticString { "path period_ms scale offset unit" }
  static var makesReadings: Bool { true }
  static var isPeriodic: Bool { true }

  static func read(_ v: inout Validator, _ task: TaskObject) throws(ConfigError) -> Self {
    let element = task.node
    return SamplerConfig(
      path: try v.path(element, "path", absolute: true),
      period: try v.milliseconds(element, "period_ms", 1...3_600_000, default: 1000),
      scale: try v.decimal(
        element, "scale", from: maxNegative, to: maxPositive, default: .one, nonZero: true),
      offset: try v.decimal(element, "offset", from: maxNegative, to: maxPositive, default: .zero),
      unit: try v.text(element, "unit", allowEmpty: true, default: Unit()))
  }

  /// Its file is open only while a worker thread reads it.
  var needs: TaskNeeds { TaskNeeds(timer: true, fileReads: true) }

  func build(_ task: TaskBuild, _ world: inout FirmwareWorld, _ files: inout OpenFiles) throws(StartupError)
    -> FirmwareTask
  {
    .sampler(
      Sampler(
        index: task.index, path: FilePath(path), period: period, scale: scale.double, offset: offset.double,
        unit: ShortName(unit), start: task.start))
  }

  /// A `sensor` with the sampler's unit.
  func discover(_ d: inout Discovery, _ name: [UInt8]) {
    d.add("sensor", name, name: name, d.sensorFields(name, unit.bytes))
  }
}
