// The task of a `pwm_hw` (LoopConfig/Kinds/PWMHardware.swift): a hardware PWM channel the
// chip drives by itself (no CPU time, no jitter), opened at startup and kept in
// `FirmwareWorld.pwmChannels`. A rule (a curve, a threshold with a `pwm` target) or an MQTT
// duty command asks for a duty on the `DutyBoard` (`world.duties`), which wakes this task; it
// writes the new duty_cycle at once (`FirmwareWorld.setPWMDuty`) and reports it: one record at
// start, then one per change, stamped with the time of the change:
//
//   {"t_ns":…,"task":"fan_pwm","event":"duty","duty_percent":30.000,"period_ns":40000}
//
// A write the driver refuses changes nothing (the channel keeps its duty) and is an error
// record, counted as the task's error:
//
//   {"t_ns":…,"task":"fan_pwm","event":"error","error":"duty write failed","errno":5,"reason":"EIO","requested_percent":62.500}
//
//                 duties.set (a rule, a command): wakes it
//   reported ---------------------------------------------> asked --poll: take, write, record--> reported
//
// At the end of a run (exit, reload) the program disables and unexports every channel
// (`releasePWMChannels`), so a reload or another program can take it.

import LoopCore
import LoopGPIO
import LoopLinux

extension FirmwareLimits {
  /// Hardware PWM channels (entries of `FirmwareWorld.pwmChannels`): a Pi's pwm-2chan has 2, a
  /// Pi 5's RP1 has 4.
  public static let pwmChannels = 4
}

/// A hardware PWM channel in the world, with the task that reports it.
public struct PWMChannel: Sendable {
  /// The channel, exported and running.
  public var pwm: HardwarePWM
  /// The `pwm_hw` task's index.
  public let task: Int
  /// When the duty last changed.
  var changed: Instant

  /// `pwm`, reported by task `task`, set at `time`.
  public init(_ pwm: HardwarePWM, task: Int, at time: Instant) {
    self.pwm = pwm
    self.task = task
    changed = time
  }
}

extension FirmwareWorld {
  /// Puts `channel` in the first free entry of `pwmChannels`; its index, nil when all
  /// `FirmwareLimits.pwmChannels` are taken (the config checks prevent it).
  public mutating func addPWMChannel(_ channel: PWMChannel) -> Int? {
    for slot in 0..<FirmwareLimits.pwmChannels where pwmChannels[slot] == nil {
      pwmChannels[slot] = channel
      return slot
    }
    return nil
  }

  /// The entry of `pwmChannels` that `pwm_hw` task `index` reports, if it is one.
  public func pwmSlot(ofTask index: Int) -> Int? {
    for slot in 0..<FirmwareLimits.pwmChannels {
      if let channel = pwmChannels[slot], channel.task == index { return slot }
    }
    return nil
  }

  /// Sets channel `slot`'s duty to `percent` of its period (held to 0…100) at `time`; written
  /// only when it changes. Returns the errno of a write the driver refused (counted as an error
  /// of the channel's task; the channel keeps its duty), nil otherwise. A sysfs attribute write
  /// turned into register writes by the driver (microseconds, no bus transfer): done here, on
  /// the loop.
  public mutating func setPWMDuty(_ slot: Int, percent: Double, at time: Instant) -> Errno? {
    guard pwmChannels[slot] != nil else { return nil }
    let before = pwmChannels[slot]!.pwm.duty
    do throws(Errno) {
      try pwmChannels[slot]!.pwm.setDuty(fraction: percent / 100)
    } catch {
      counters[pwmChannels[slot]!.task].errors += 1
      return error
    }
    if pwmChannels[slot]!.pwm.duty != before { pwmChannels[slot]!.changed = time }
    return nil
  }

  /// Channel `slot`'s duty record (`"event":"duty"`, the percent and the period), stamped with
  /// its last change: what its task reports, and what MQTT publishes again after a connect.
  public func pwmDutyRecord(_ slot: Int) -> RecordLine {
    let pwm = pwmChannels[slot]!.pwm
    var record = record(pwmChannels[slot]!.task, at: pwmChannels[slot]!.changed)
    record.field("event", "duty")
    record.field(
      "duty_percent", Double(pwm.duty.nanoseconds) * 100 / Double(pwm.period.nanoseconds), decimals: 3)
    record.field("period_ns", integer: pwm.period.nanoseconds)
    record.finish()
    return record
  }

  /// Disables and unexports every hardware PWM channel and empties the table (the end of a run).
  public mutating func releasePWMChannels() {
    for slot in 0..<FirmwareLimits.pwmChannels where pwmChannels[slot] != nil {
      pwmChannels[slot]!.pwm.release()
      pwmChannels[slot] = nil
    }
  }
}

/// Applies the duties asked of a hardware PWM channel and reports its duty: at start and after
/// each change.
public struct HardwarePWMTask: Sendable {
  /// The task index.
  public let index: Int
  /// Its channel's entry in `FirmwareWorld.pwmChannels`.
  public let slot: Int
  /// The duty last reported (nil: none yet).
  var reported: Duration? = nil

  /// The task reporting channel `slot` of the world.
  public init(index: Int, slot: Int) {
    self.index = index
    self.slot = slot
  }

  @inline(never)
  mutating func poll<S: Scheduler & ~Copyable>(_ cx: inout Context<S>, _ world: inout FirmwareWorld)
    -> Poll<Void>
  {
    guard world.pwmChannels[slot] != nil else { return .ready(()) }
    // Woken when a rule or a command asks for a duty; the latest request wins.
    world.duties.listen(index, &cx)
    if let percent = world.duties.take(index),
      let errno = world.setPWMDuty(slot, percent: percent, at: cx.now)
    {
      var record = world.record(index, at: cx.now)
      record.field("event", "error")
      record.field("error", "duty write failed")
      record.field("errno", integer: Int64(errno.rawValue))
      record.field("reason", errno.name)
      record.field("requested_percent", percent, decimals: 3)
      record.finish()
      world.emit(record, task: index, &cx)
    }
    let duty = world.pwmChannels[slot]!.pwm.duty
    if duty == reported { return .pending }
    reported = duty
    let record = world.pwmDutyRecord(slot)
    world.emit(record, task: index, &cx)
    return .pending
  }
}
