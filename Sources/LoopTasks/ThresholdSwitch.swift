// The threshold switch: drives an output line, or a pwm task's duty, from another task's
// readings, with hysteresis.

import LoopCore
import LoopGPIO

/// Drives an output when a source task's reading crosses a threshold, with hysteresis.
public struct ThresholdSwitch: Sendable {
  /// What a threshold drives.
  public enum Target: Equatable, Sendable {
    /// An output line (by line index): on and off.
    case line(Int)
    /// A pwm task (by task index): one duty when on, another when off, in percent.
    case duty(pwm: Int, on: Double, off: Double)
  }

  /// The task index.
  public let index: Int
  /// The watched task's index.
  public let source: Int
  /// What it drives.
  public let target: Target
  var hysteresis: Hysteresis
  var seen: UInt64 = 0

  /// A switch on `line` watching task `source`'s readings.
  public init(index: Int, source: Int, line: Int, onAbove: Double, offBelow: Double) {
    self.init(index: index, source: source, target: .line(line), onAbove: onAbove, offBelow: offBelow)
  }

  /// A switch driving `target` from task `source`'s readings.
  public init(index: Int, source: Int, target: Target, onAbove: Double, offBelow: Double) {
    self.index = index
    self.source = source
    self.target = target
    hysteresis = Hysteresis(onAbove: onAbove, offBelow: offBelow)
  }

  @inline(never)
  mutating func poll<S: Scheduler & ~Copyable>(_ cx: inout Context<S>, _ world: inout FirmwareWorld)
    -> Poll<Void>
  {
    let reading = world.readings.latest(source)
    if reading.sequence != seen {
      seen = reading.sequence
      if let on = hysteresis.feed(reading.value) {
        var record = world.record(index, at: reading.time)
        record.field("event", on ? "on" : "off")
        record.field("value", reading.value, decimals: 3)
        switch target {
        case .line(let line):
          drive(&world.outputs[line]!, on, at: cx.now, &world.counters[index])
        case .duty(let pwm, let dutyOn, let dutyOff):
          world.duties.set(pwm, percent: on ? dutyOn : dutyOff, &cx)
          record.field("duty_percent", on ? dutyOn : dutyOff, decimals: 1)
        }
        record.finish()
        world.emit(record, task: index, &cx)
      }
    }
    world.readings.subscribe(source, &cx)
    return .pending
  }
}
