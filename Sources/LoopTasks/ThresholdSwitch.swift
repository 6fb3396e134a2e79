// The threshold switch: drives an output from another task's readings, with hysteresis.

import LoopCore
import LoopGPIO

/// Drives an output when a source task's reading crosses a threshold, with hysteresis.
public struct ThresholdSwitch: Sendable {
  /// The task index.
  public let index: Int
  /// The watched task's index.
  public let source: Int
  /// The output line index.
  public let line: Int
  var hysteresis: Hysteresis
  var seen: UInt64 = 0

  /// A switch on `line` watching task `source`'s readings.
  public init(index: Int, source: Int, line: Int, onAbove: Double, offBelow: Double) {
    self.index = index
    self.source = source
    self.line = line
    hysteresis = Hysteresis(onAbove: onAbove, offBelow: offBelow)
  }

  mutating func poll<S: Scheduler & ~Copyable>(_ cx: inout Context<S>, _ world: inout FirmwareWorld)
    -> Poll<Void>
  {
    let reading = world.readings.latest(source)
    if reading.sequence != seen {
      seen = reading.sequence
      if let on = hysteresis.feed(reading.value) {
        drive(&world.outputs[line]!, on, at: cx.now, &world.counters[index])
        var record = world.record(index, at: reading.time)
        record.field("event", on ? "on" : "off")
        record.field("value", reading.value, decimals: 3)
        record.finish()
        world.emit(record, task: index, &cx)
      }
    }
    world.readings.subscribe(source, &cx)
    return .pending
  }
}
