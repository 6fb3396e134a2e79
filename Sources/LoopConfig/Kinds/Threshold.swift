// The threshold kind: drives an output on when a source task's reading rises above
// `on_above`, off when it falls below `off_below` (hysteresis).
// {"name": "fan", "kind": "threshold", "source": "soc_temp", "line": "fan", "on_above": 65, "off_below": 55}

import LoopCore
import LoopTasks

/// Drives an output on when a source reading rises above `onAbove`, off when it falls
/// below `offBelow` (hysteresis).
public struct ThresholdConfig: Equatable, Sendable {
  /// The task whose readings are watched (a kind that makes readings: a sampler, pulse
  /// counter or encoder).
  public var source: Int
  /// The output line.
  public var line: Int
  /// The output turns on when a reading exceeds this.
  public var onAbove: DecimalNumber
  /// The output turns off when a reading falls below this (at most `onAbove`).
  public var offBelow: DecimalNumber
}

extension ThresholdConfig: TaskKindDescription {
  static var name: StaticString { "threshold" }
  static var what: StaticString { "a threshold task" }
  static var keys: [StaticString] { ["source", "line", "on_above", "off_below"] }

  static func read(_ v: inout Validator, _ task: TaskObject) throws(ConfigError) -> Self {
    let element = task.node
    let source = try v.taskRef(task, "source")
    let line = try v.lineRef(task, "line", LineNeed(direction: .output, edges: nil))
    let onAbove = try v.decimal(element, "on_above", from: maxNegative, to: maxPositive, default: nil)
    let offBelow = try v.decimal(element, "off_below", from: maxNegative, to: maxPositive, default: onAbove)
    if offBelow.double > onAbove.double, let node = v.doc.member(element, "off_below") {
      let mark = v.push("off_below")
      defer { v.pop(mark) }
      var expected: [UInt8] = []
      expected.append("a number no higher than on_above (")
      onAbove.render(into: &expected)
      expected.append(")")
      throw v.mismatch(.range, at: node, expected: expected)
    }
    return ThresholdConfig(source: source, line: line, onAbove: onAbove, offBelow: offBelow)
  }

  /// The source (possibly further down) makes readings, and notifies at most
  /// `ConfigLimits.maxWatchersPerSource` thresholds.
  func check(_ v: inout Validator, _ task: TaskObject) throws(ConfigError) {
    let tasks = v.scope.tasks
    var watchers = 0
    for i in 0...task.index {
      if let other = ThresholdConfig(tasks[i].kind), other.source == source { watchers += 1 }
    }
    let node = v.doc.member(task.node, "source")!
    let mark = v.push("source")
    defer { v.pop(mark) }
    if watchers > ConfigLimits.maxWatchersPerSource {
      var message: [UInt8] = []
      message.append("task ")
      message.appendQuoted(tasks[source].name)
      message.append(" already has ")
      message.appendDecimal(ConfigLimits.maxWatchersPerSource)
      message.append(" thresholds watching it, the most one source can notify")
      throw v.error(.capacity, at: node, message)
    }
    if !tasks[source].entry.makesReadings {
      var message: [UInt8] = []
      message.append("task ")
      message.appendQuoted(tasks[source].name)
      // The kinds that make readings, as registered: a new one is named here without an edit.
      message.append(" makes no readings; a threshold watches a ")
      var readers = 0
      for entry in TaskKind.registry where entry.makesReadings { readers += 1 }
      var position = 0
      for entry in TaskKind.registry where entry.makesReadings {
        if position > 0 { message.append(position == readers - 1 ? " or " : ", ") }
        message.append(entry.name)
        position += 1
      }
      message.append(" task")
      throw v.error(.conflict, at: node, message)
    }
  }

  var kind: TaskKind { .threshold(self) }
  init?(_ kind: TaskKind) {
    guard case .threshold(let c) = kind else { return nil }
    self = c
  }

  /// It waits for its source's readings only.
  var needs: TaskNeeds { TaskNeeds(timer: false) }

  func build(_ task: TaskBuild, _ world: inout FirmwareWorld, _ files: inout OpenFiles) throws(StartupError)
    -> FirmwareTask
  {
    .threshold(
      ThresholdSwitch(
        index: task.index, source: source, line: line, onAbove: onAbove.double, offBelow: offBelow.double))
  }
}
