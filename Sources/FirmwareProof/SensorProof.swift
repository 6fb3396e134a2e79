// The sensor and pwm_hw tasks in the allocation proof, never run. `FirmwareTask.poll` already
// reaches their polls (FirmwareProof.swift); this makes the proof also see them built as
// startup builds them (a source resolved into `FirmwareWorld.sensors`, a hardware PWM channel
// set up into `FirmwareWorld.pwmChannels`) and run as `.sensor` and `.pwmHardware` cases (the
// pwm_hw task's poll takes a duty from the `DutyBoard` and writes it with
// `FirmwareWorld.setPWMDuty`, so the proof sees that write too).

import LoopCore
import LoopGPIO
import LoopLinux
import LoopTasks

/// Startup of a DS18B20 sensor and a hardware PWM channel, then the firmware's run with each
/// task; false when something was missing.
public func proveSensorsAndPWM(start: Instant) -> Bool {
  var world = FirmwareWorld(outputFD: 1)
  guard
    let source = try? SensorResolver.ds18b20(root: SysfsPath("/sys"), id: ShortName()),
    let pwm = try? HardwarePWM(root: SysfsPath("/sys"), chip: .only, channel: 0, period: .microseconds(40))
  else { return false }
  var filters = SensorFilters()
  var specs = InlineArray<6, FilterSpec>(repeating: .median(window: 5))
  specs[1] = .heartbeat(interval: .seconds(60))
  guard let chain = try? FilterChain(specs, count: 2) else { return false }
  filters.set(chain, channel: 0)
  guard
    let sensor = world.addSensor(
      SensorTask(index: 0, source: source, filters: filters, period: .seconds(1), start: start)),
    let slot = world.addPWMChannel(PWMChannel(pwm, task: 1, at: start)),
    let platform = try? EpollPlatform()
  else { return false }
  _ = proveFirmware(platform: platform, world: world, start: start, task: .sensor(sensor))
  guard let second = try? EpollPlatform() else { return false }
  var other = FirmwareWorld(outputFD: 1)
  _ = other.addPWMChannel(PWMChannel(pwm, task: 1, at: start))
  _ = proveFirmware(
    platform: second, world: other, start: start, task: .pwmHardware(HardwarePWMTask(index: 1, slot: slot)))
  return true
}
