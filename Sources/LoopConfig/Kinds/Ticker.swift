// The ticker kind: a tick record on a fixed time grid.
// {"name": "tick", "kind": "ticker", "period_ms": 100}

import LoopCore
import LoopTasks

/// Emits a tick record on a fixed grid.
public struct TickerConfig: Equatable, Sendable {
  /// The grid's period.
  public var period: Duration
}

extension TickerConfig: TaskKindDescription {
  static var name: StaticString { "ticker" }
  static var what: StaticString { "a ticker task" }
  static var keys: StaticString { "period_ms" }
  static var isPeriodic: Bool { true }

  static func read(_ v: inout Validator, _ task: TaskObject) throws(ConfigError) -> Self {
    TickerConfig(period: try v.milliseconds(task.node, "period_ms", 1...3_600_000, default: nil))
  }

  var needs: TaskNeeds { TaskNeeds(timer: true) }

  func build(_ task: TaskBuild, _ world: inout FirmwareWorld, _ files: inout OpenFiles) throws(StartupError)
    -> FirmwareTask
  {
    .ticker(TickerTask(index: task.index, period: period, start: task.start))
  }
}
