// The pwm_hw kind: a hardware PWM channel through /sys/class/pwm (a Pi's `dtoverlay=pwm-2chan`:
// GPIO18 and GPIO19), which the chip drives by itself: fans at 25 kHz, servos, dimmers without
// jitter. Set up at startup (export, period, polarity, duty, enable); a rule (`curve`,
// `threshold` with `pwm`) or an MQTT command may change its duty, as a software `pwm`'s; its
// task reports the duty at start and at each change; the channel is disabled and unexported at
// the end.
// {"name": "fan_pwm", "kind": "pwm_hw", "chip": "pwm-bcm2835", "channel": 0, "period_us": 40, "duty_percent": 30}

import LoopCore
import LoopGPIO
import LoopLinux
import LoopTasks

/// A hardware PWM channel: chip, channel, period, duty and polarity.
public struct HardwarePWMConfig: Equatable, Sendable {
  /// The chip: the only one, `pwmchipN`, or by its driver or compatible string.
  public var chip: PWMChipSelector
  /// The channel on the chip (pwm-2chan on a Pi 4: 0 is GPIO18, 1 is GPIO19).
  public var channel: Int
  /// One cycle.
  public var period: Duration
  /// The share of each period the output is active, 0 to 100.
  public var dutyPercent: DecimalNumber
  /// Active high (`normal`) or low (`inversed`) for the duty.
  public var polarity: PWMPolarity
  /// Where sysfs is mounted: `/sys` on a board, a fake tree in tests. (Inline, unlike the
  /// sensor's: held in a `HeapText` here, the host compiler's release build crashed on `read`
  /// (Swift 6.3.1, a SIL ownership verification failure); this payload stays under the
  /// heartbeat's, the largest of `TaskKind`.)
  public var sysfsRoot: Path

  /// The duty as a time within the period.
  public var duty: Duration {
    Duration(nanoseconds: Int64((Double(period.nanoseconds) * dutyPercent.double / 100).rounded()))
  }
}

extension HardwarePWMConfig: TaskKindDescription {
  static var name: StaticString { "pwm_hw" }
  static var what: StaticString { "a pwm_hw task" }
  static var keys: StaticString { "chip channel period_us duty_percent polarity sysfs_root" }
  /// A curve, a threshold or an MQTT command may set its duty.
  static var takesDuty: Bool { true }

  static func read(_ v: inout Validator, _ task: TaskObject) throws(ConfigError) -> Self {
    let element = task.node
    var chip = PWMChipSelector.only
    if let node = v.doc.member(element, "chip") {
      let mark = v.push("chip")
      defer { v.pop(mark) }
      if v.kind(node) == .number {
        chip = .number(Int(try v.readInteger(node, 0...Int64(HardwarePWM.probedChips - 1))))
      } else if v.kind(node) == .string, let name = ShortPWMName(v.doc.string(node)), !name.isEmpty {
        chip = .driver(name)
      } else {
        throw v.mismatch(
          .type, at: node,
          expected:
            "the chip's number (0 for pwmchip0) or its driver or compatible string (\"pwm-bcm2835\", \"raspberrypi,rp1-pwm\")"
        )
      }
    }
    let channel = Int(try v.integer(element, "channel", 0...15, default: 0))
    let period = Duration.microseconds(
      try v.integer(element, "period_us", 1...1_000_000, default: nil, unit: "microseconds"))
    let duty = try v.decimal(
      element, "duty_percent", from: .zero, to: DecimalNumber(significand: 100), default: .zero)
    let inversed = try v.choice(element, "polarity", "normal inversed", default: 0) == 1
    var root = Path("/sys")
    if v.doc.member(element, "sysfs_root") != nil { root = try v.path(element, "sysfs_root", absolute: true) }
    let config = HardwarePWMConfig(
      chip: chip, channel: channel, period: period, dutyPercent: duty,
      polarity: inversed ? .inversed : .normal,
      sysfsRoot: root)
    var before = 0
    for i in v.scope.tasks.indices {
      guard case .pwmHardware(let other) = v.scope.tasks.element(i).kind else { continue }
      before += 1
      if other.chip == chip && other.channel == channel && other.sysfsRoot == config.sysfsRoot {
        throw v.error(
          .conflict, atKey: "channel", of: element,
          bytes("tasks[", i, "] already drives this channel of this chip"))
      }
    }
    if before == FirmwareLimits.pwmChannels {
      throw v.error(
        .capacity, at: element,
        bytes(
          "a pwm_hw task too many: the firmware holds ", FirmwareLimits.pwmChannels,
          " hardware PWM channels (the fixed capacity)"))
    }
    return config
  }

  /// It waits for duty requests only; the channel's files are opened for each write.
  var needs: TaskNeeds { TaskNeeds(timer: false) }

  func build(_ task: TaskBuild, _ world: inout FirmwareWorld, _ files: inout OpenFiles) throws(StartupError)
    -> FirmwareTask
  {
    let pwm: HardwarePWM
    do throws(PWMError) {
      pwm = try HardwarePWM(
        root: sysfsRoot, chip: chip, channel: channel, period: period, duty: duty, polarity: polarity)
    } catch {
      var e = prefix(task, world)
      e.add(error)
      throw e
    }
    // One channel named twice (by number and by driver) is found here.
    for slot in 0..<FirmwareLimits.pwmChannels {
      guard let other = world.pwmChannels[slot], other.pwm.directory == pwm.directory else { continue }
      var e = prefix(task, world)
      e.add("task \"")
      e.add(world.names[other.task])
      e.add("\" already drives ")
      e.add(pwm.directory)
      throw e
    }
    guard let slot = world.addPWMChannel(PWMChannel(pwm, task: task.index, at: task.start)) else {
      var e = prefix(task, world)
      e.add("no room in the firmware's PWM table")
      throw e
    }
    return .pwmHardware(HardwarePWMTask(index: task.index, slot: slot))
  }

  /// `sensorloop: task "fan" (pwm_hw channel 0): `, made where a build fails.
  func prefix(_ task: TaskBuild, _ world: borrowing FirmwareWorld) -> StartupError {
    var e = StartupError("sensorloop: task \"")
    e.add(world.names[task.index])
    e.add("\" (pwm_hw channel ")
    e.add(decimal: channel)
    e.add("): ")
    return e
  }

  /// Its duty as a `number` a command sets; its state is its task's duty record (JSON).
  func discover(_ d: inout Discovery, _ name: [UInt8]) {
    d.add(
      "number", name, name: name, d.dutyNumber(name, ",\"value_template\":\"{{ value_json.duty_percent }}\""))
  }
  var commandDuty: Int? { Int(dutyPercent.double.rounded()) }
}
