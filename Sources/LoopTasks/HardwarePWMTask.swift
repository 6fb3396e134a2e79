// The task of a `pwm_hw` (LoopConfig/Kinds/HardwarePWM.swift): a hardware PWM channel the
// chip drives by itself (no CPU time, no jitter), opened at startup and kept in
// `FirmwareWorld.pwmChannels`, where another task (a rule driving a fan's duty) changes it with
// `FirmwareWorld.setPWMDuty`. The task reports the duty: one record at start, then one per
// change, stamped with the time of the change:
//
//   {"t_ns":…,"task":"fan_pwm","event":"duty","duty_percent":30.000,"period_ns":40000}
//
//                 setPWMDuty (a new duty): wakes it
//   reported ---------------------------------------> changed --poll: record--> reported
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
  /// The reporting task's waker, once it has been polled.
  var waker: Waker? = nil
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

  /// Sets channel `slot`'s duty to `percent` of its period (held to 0…100) and wakes its task
  /// to report it; written only when it changes. A write the driver refuses counts as an error
  /// of the channel's task. A sysfs attribute write turned into register writes by the driver
  /// (microseconds, no bus transfer): done here, on the loop.
  public mutating func setPWMDuty<S: Scheduler & ~Copyable>(
    _ slot: Int, percent: Double, _ cx: inout Context<S>
  ) {
    guard pwmChannels[slot] != nil else { return }
    let before = pwmChannels[slot]!.pwm.duty
    do throws(Errno) {
      try pwmChannels[slot]!.pwm.setDuty(fraction: percent / 100)
    } catch {
      counters[pwmChannels[slot]!.task].errors += 1
      return
    }
    if pwmChannels[slot]!.pwm.duty == before { return }
    pwmChannels[slot]!.changed = cx.now
    if let waker = pwmChannels[slot]!.waker { cx.wake(waker) }
  }

  /// Disables and unexports every hardware PWM channel and empties the table (the end of a run).
  public mutating func releasePWMChannels() {
    for slot in 0..<FirmwareLimits.pwmChannels where pwmChannels[slot] != nil {
      pwmChannels[slot]!.pwm.release()
      pwmChannels[slot] = nil
    }
  }
}

/// Reports a hardware PWM channel's duty: at start and after each change.
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

  mutating func poll<S: Scheduler & ~Copyable>(_ cx: inout Context<S>, _ world: inout FirmwareWorld)
    -> Poll<Void>
  {
    guard world.pwmChannels[slot] != nil else { return .ready(()) }
    world.pwmChannels[slot]!.waker = cx.waker
    let duty = world.pwmChannels[slot]!.pwm.duty
    if duty == reported { return .pending }
    reported = duty
    let period = world.pwmChannels[slot]!.pwm.period
    var record = world.record(index, at: world.pwmChannels[slot]!.changed)
    record.field("event", "duty")
    record.field(
      "duty_percent", Double(duty.nanoseconds) * 100 / Double(period.nanoseconds), decimals: 3)
    record.field("period_ns", integer: period.nanoseconds)
    record.finish()
    world.emit(record, task: index, &cx)
    return .pending
  }
}
