// Hardware PWM through /sys/class/pwm on a fake tree (sysfs-class-pwm's layout: pwmchipN with
// npwm, export, unexport and device/uevent; pwmchipN/pwmM with period, duty_cycle, polarity and
// enable). A fake tree cannot make the kernel's pwmM directory appear on export, so a channel is
// either made "already exported" by the test or the export write itself is checked. Then the
// pwm_hw task on a virtual clock: a curve and a threshold set its duty (the duty_cycle file
// changes, the task reports it), and a write the driver refuses is an error record that changes
// nothing.

import AllocCounter
import Foundation
import HostTestSupport
import LoopCore
import LoopGPIO
import LoopLinux
import LoopTasks
import Testing

/// A chip `pwmchip<n>` with `npwm` channels, driven by `driver`, channels in `exported` present.
func fakePWMChip(
  _ fake: FakeSysfs, _ n: Int, npwm: Int, driver: String, compatible: String, exported: [Int]
) {
  let dir = "class/pwm/pwmchip\(n)"
  fake.file(dir + "/npwm", "\(npwm)\n")
  fake.file(dir + "/export", "")
  fake.file(dir + "/unexport", "")
  fake.file(
    dir + "/device/uevent",
    "DRIVER=\(driver)\nOF_NAME=pwm\nOF_COMPATIBLE_0=\(compatible)\nOF_COMPATIBLE_N=1\n")
  for channel in exported {
    for attribute in ["period", "duty_cycle", "enable"] {
      fake.file(dir + "/pwm\(channel)/\(attribute)", "0\n")
    }
    fake.file(dir + "/pwm\(channel)/polarity", "normal\n")
  }
}

/// The error's message, path (relative to the root), hint and what it found.
private func failure(_ fake: FakeSysfs, _ body: () throws(PWMError) -> HardwarePWM) -> (
  message: String, path: String, hint: String, found: String
)? {
  do {
    _ = try body()
    return nil
  } catch {
    let path = String(decoding: error.path.withBytes { Array($0) }, as: UTF8.self)
    return (
      error.message.description, String(path.dropFirst(fake.root.count)), error.hint.description,
      String(decoding: error.found.withBytes { Array($0) }, as: UTF8.self)
    )
  }
}

@Suite struct HardwarePWMTests {
  /// A 25 kHz fan: period, duty, polarity and enable written in the order the kernel accepts,
  /// then duty changes (only when they change), then released at shutdown.
  @Test func setsUpAndDrivesAChannel() throws {
    let fake = FakeSysfs()
    fakePWMChip(fake, 0, npwm: 2, driver: "pwm-bcm2835", compatible: "brcm,bcm2835-pwm", exported: [1])
    var pwm = try HardwarePWM(
      root: fake.path, chip: .only, channel: 1, period: .microseconds(40), duty: .microseconds(10))
    let dir = "class/pwm/pwmchip0/pwm1/"
    #expect(fake.read(dir + "period") == "40000")
    #expect(fake.read(dir + "duty_cycle") == "10000")
    #expect(fake.read(dir + "polarity") == "normal")
    #expect(fake.read(dir + "enable") == "1")
    #expect(pwm.enabled && pwm.duty == .microseconds(10))
    try pwm.setDuty(fraction: 0.5)
    #expect(fake.read(dir + "duty_cycle") == "20000")
    // The same duty again writes nothing (the file is left as the test made it).
    fake.file(dir + "duty_cycle", "untouched")
    try pwm.setDuty(fraction: 0.5)
    #expect(fake.read(dir + "duty_cycle") == "untouched")
    try pwm.setDuty(fraction: 7)  // held to the period
    #expect(fake.read(dir + "duty_cycle") == "40000")
    try pwm.setDuty(.microseconds(3))
    #expect(fake.read(dir + "duty_cycle") == "3000")
    pwm.release()
    #expect(fake.read(dir + "enable") == "0")
    #expect(fake.read("class/pwm/pwmchip0/unexport") == "1")
  }

  @Test func inversedPolarityAndAChipByDriver() throws {
    let fake = FakeSysfs()
    fakePWMChip(fake, 0, npwm: 4, driver: "rp1-pwm", compatible: "raspberrypi,rp1-pwm", exported: [])
    fakePWMChip(fake, 1, npwm: 2, driver: "pwm-bcm2835", compatible: "brcm,bcm2835-pwm", exported: [0])
    let pwm = try HardwarePWM(
      root: fake.path, chip: .driver(ShortPWMName("brcm,bcm2835-pwm")), channel: 0, period: .milliseconds(20),
      duty: .microseconds(1500), polarity: .inversed)
    #expect(pwm.chip.withBytes { String(decoding: $0, as: UTF8.self) }.hasSuffix("/pwmchip1"))
    #expect(fake.read("class/pwm/pwmchip1/pwm0/polarity") == "inversed")
    #expect(fake.read("class/pwm/pwmchip1/pwm0/duty_cycle") == "1500000")
    // Two chips and none chosen: the error lists them with their drivers.
    let several = failure(fake) { () throws(PWMError) in
      try HardwarePWM(root: fake.path, chip: .only, channel: 0, period: .milliseconds(1))
    }
    #expect(several?.message == "several PWM chips: give the chip's number or driver")
    #expect(several?.found == "pwmchip0 (rp1-pwm), pwmchip1 (pwm-bcm2835)")
    let byNumber = try HardwarePWM(root: fake.path, chip: .number(1), channel: 0, period: .milliseconds(1))
    #expect(byNumber.channel == 0)
  }

  /// Without the overlay there is no chip: the error names it.
  @Test func errorsNameTheOverlay() {
    let fake = FakeSysfs()
    let none = failure(fake) { () throws(PWMError) in
      try HardwarePWM(root: fake.path, chip: .only, channel: 0, period: .milliseconds(1))
    }
    #expect(none?.message == "no PWM chip" && none?.path == "/class/pwm")
    #expect(none?.hint.contains("dtoverlay=pwm-2chan") == true)
    fakePWMChip(fake, 0, npwm: 2, driver: "pwm-bcm2835", compatible: "brcm,bcm2835-pwm", exported: [])
    let wrongDriver = failure(fake) { () throws(PWMError) in
      try HardwarePWM(
        root: fake.path, chip: .driver(ShortPWMName("rp1-pwm")), channel: 0, period: .milliseconds(1))
    }
    #expect(wrongDriver?.message == "no such PWM chip" && wrongDriver?.found == "pwmchip0 (pwm-bcm2835)")
    #expect(wrongDriver?.hint.contains("pwm-2chan") == true)
    let channel = failure(fake) { () throws(PWMError) in
      try HardwarePWM(root: fake.path, chip: .only, channel: 2, period: .milliseconds(1))
    }
    #expect(channel?.message == "no such channel on the chip" && channel?.found == "channels 0 to 1")
  }

  /// Duty changes, as a fan curve makes them every reading, allocate nothing.
  @Test func dutyChangesAllocateNothing() throws {
    let fake = FakeSysfs()
    fakePWMChip(fake, 0, npwm: 2, driver: "pwm-bcm2835", compatible: "brcm,bcm2835-pwm", exported: [0])
    var pwm = try HardwarePWM(root: fake.path, chip: .only, channel: 0, period: .microseconds(40))
    try pwm.setDuty(fraction: 0.1)
    var failures = 0
    let before = sl_alloc_count_thread()
    for i in 0..<200 {
      do { try pwm.setDuty(fraction: Double(i % 100) / 100) } catch { failures += 1 }
    }
    let allocations = sl_alloc_count_thread() - before
    if sl_alloc_counter_active() != 0 { #expect(allocations == 0) }
    #expect(failures == 0 && pwm.errors == 0)
    #expect(fake.read("class/pwm/pwmchip0/pwm0/duty_cycle") == "39600")
  }

  /// The wait for udev's permissions: at once for a writable file, bounded for one that never
  /// becomes writable.
  @Test func waitsForTheChannelFilesBounded() {
    let fake = FakeSysfs()
    fake.file("class/pwm/pwmchip0/pwm0/enable", "0\n")
    var writable = fake.path
    writable.append("/class/pwm/pwmchip0/pwm0/enable")
    #expect(SysfsFile.waitUntilWritable(writable, timeout: .zero))
    var missing = fake.path
    missing.append("/class/pwm/pwmchip0/pwm1/enable")
    let start = monotonicNow()
    #expect(!SysfsFile.waitUntilWritable(missing, timeout: .milliseconds(50)))
    #expect(monotonicNow() - start >= .milliseconds(50))
  }

  /// A channel not yet exported is exported by number; here the fake kernel makes no
  /// directory, which is reported.
  @Test func exportsAChannel() {
    let fake = FakeSysfs()
    fakePWMChip(fake, 0, npwm: 2, driver: "pwm-bcm2835", compatible: "brcm,bcm2835-pwm", exported: [])
    let missing = failure(fake) { () throws(PWMError) in
      try HardwarePWM(root: fake.path, chip: .only, channel: 1, period: .milliseconds(1))
    }
    #expect(fake.read("class/pwm/pwmchip0/export") == "1")
    #expect(missing?.message == "the chip did not create the channel's directory after export")
    #expect(missing?.path == "/class/pwm/pwmchip0/pwm1")
  }
}

private typealias H = FirmwareHarness

/// Milliseconds after the harness start of a record.
private func ms(_ record: Record) -> Int64 { (record.time - H.start.nanoseconds) / 1_000_000 }

/// Sets up a 25 kHz channel 0 on a fake chip at `dutyPercent`, reported by task `task` of `h`;
/// the task to spawn for it.
private func addFan(_ h: inout H, _ fake: FakeSysfs, task: Int, dutyPercent: Double = 0) throws
  -> FirmwareTask
{
  fakePWMChip(fake, 0, npwm: 2, driver: "pwm-bcm2835", compatible: "brcm,bcm2835-pwm", exported: [0])
  let pwm = try HardwarePWM(
    root: fake.path, chip: .only, channel: 0, period: .microseconds(40),
    duty: .nanoseconds(Int64(400 * dutyPercent)))
  guard let slot = h.firmware.world.addPWMChannel(PWMChannel(pwm, task: task, at: H.start)) else {
    throw PWMTestFailure()
  }
  return .pwmHardware(HardwarePWMTask(index: task, slot: slot))
}

/// The PWM table was full.
private struct PWMTestFailure: Error {}

/// A sampler reading `path` (a number, scaled by `scale`) every `period`.
private func sampler(_ index: Int, _ path: String, every period: Duration, scale: Double) -> FirmwareTask {
  .sampler(
    Sampler(
      index: index, path: FilePath(text: path), period: period, scale: scale, offset: 0,
      unit: ShortName("C"), start: H.start))
}

@Suite struct HardwarePWMTaskTests {
  /// A curve sets the hardware channel's duty from a temperature: each new duty is written to
  /// duty_cycle at once and reported, stamped with the reading that set it.
  @Test func aCurveDrivesAHardwarePWMChannel() throws {
    let fake = FakeSysfs()
    fake.file("temp", "50000")
    var h = H(lines: [.output(initial: false)], names: ["temp", "fan_curve", "fan"])
    let fan = try addFan(&h, fake, task: 2)
    try h.spawn(sampler(0, fake.root + "/temp", every: .seconds(1), scale: 0.001))
    var readings = InlineArray<8, Double>(repeating: 0)
    var duties = InlineArray<8, Double>(repeating: 0)
    for (k, point) in [(40.0, 0.0), (50, 30), (70, 100)].enumerated() {
      readings[k] = point.0
      duties[k] = point.1
    }
    let curve = try #require(DutyCurve(readings: readings, duties: duties, count: 3))
    try h.spawn(.curve(CurveRule(index: 1, source: 0, pwm: 2, follower: CurveFollower(curve: curve))))
    try h.spawn(fan)
    let dutyCycle = "class/pwm/pwmchip0/pwm0/duty_cycle"
    _ = try h.run(until: 500)
    #expect(fake.read(dutyCycle) == "12000")  // 50 °C: 30 % of 40 µs
    fake.file("temp", "60000")
    _ = try h.run(until: 1500)
    #expect(fake.read(dutyCycle) == "26000")  // 60 °C: 65 %
    fake.file("temp", "75000")
    _ = try h.run(until: 2500)
    #expect(fake.read(dutyCycle) == "40000")  // clamped at 100 %
    fake.file("temp", "20000")
    let records = try h.run(until: 3500)
    #expect(fake.read(dutyCycle) == "0")
    // The task reports the duty it finds at its first poll (the curve's first, set in the same
    // turn: the configured 0 % is never in force long enough to report), then each one the
    // curve set, stamped when it was written.
    let reports = records.filter { $0.task == "fan" }
    #expect(reports.map(\.event) == ["duty", "duty", "duty", "duty"])
    #expect(reports.map { $0.double("duty_percent") } == [30, 65, 100, 0])
    #expect(reports.map(ms) == [0, 1000, 2000, 3000])
    #expect(reports.allSatisfy { $0.int("period_ns") == 40_000 })
    #expect(records.filter { $0.task == "fan_curve" }.map { $0.double("duty_percent") } == [30, 65, 100, 0])
    #expect(h.firmware.world.counters[2].errors == 0)
    let refused = h.firmware.world.pwmChannels[0]?.pwm.errors
    #expect(refused == 0)
  }

  /// A sampler reading `temp` (20 at first) every 100 ms, a threshold on it setting 80 % above
  /// 30 and 20 % below 25 on the fan (task 2: a hardware PWM channel at 10 %).
  private func thresholdOnAFan(_ fake: FakeSysfs) throws -> H {
    fake.file("temp", "20")
    var h = H(lines: [.output(initial: false)], names: ["temp", "fan_switch", "fan"])
    let fan = try addFan(&h, fake, task: 2, dutyPercent: 10)
    try h.spawn(sampler(0, fake.root + "/temp", every: .milliseconds(100), scale: 1))
    try h.spawn(
      .threshold(
        ThresholdSwitch(
          index: 1, source: 0, target: .duty(pwm: 2, on: 80, off: 20), onAbove: 30, offBelow: 25)))
    try h.spawn(fan)
    return h
  }

  /// A threshold with a `pwm` target: its on and off duties on the hardware channel.
  @Test func aThresholdSetsAHardwarePWMDutyOnAndOff() throws {
    let fake = FakeSysfs()
    var h = try thresholdOnAFan(fake)
    let dutyCycle = "class/pwm/pwmchip0/pwm0/duty_cycle"
    var seen: [String?] = []
    for (until, value) in [(50, "31"), (150, "27"), (250, "24")] {
      _ = try h.run(until: Int64(until))
      seen.append(fake.read(dutyCycle))
      fake.file("temp", value)
    }
    let records = try h.run(until: 400)
    seen.append(fake.read(dutyCycle))
    // 10 % as configured; 80 % once above 30; held at 27 (hysteresis); 20 % below 25.
    #expect(seen == ["4000", "32000", "32000", "8000"])
    #expect(records.filter { $0.task == "fan_switch" }.map(\.event) == ["on", "off"])
    let reports = records.filter { $0.task == "fan" }
    #expect(reports.map { $0.double("duty_percent") } == [10, 80, 20])
    #expect(reports.map(ms) == [0, 100, 300])
  }

  /// A duty the driver refuses (here duty_cycle cannot be opened for writing) is an error
  /// record, counted; the channel keeps its duty and reports no change. The next duty applies.
  @Test func aRefusedDutyWriteChangesNothing() throws {
    let fake = FakeSysfs()
    var h = try thresholdOnAFan(fake)
    _ = try h.run(until: 50)
    // A directory in the file's place: the write fails with EISDIR.
    let dutyCycle = "class/pwm/pwmchip0/pwm0/duty_cycle"
    fake.remove(dutyCycle)
    fake.file(dutyCycle + "/blocked", "")
    fake.file("temp", "31")
    var records = try h.run(until: 150)
    let error = try #require(records.first { $0.task == "fan" && $0.event == "error" })
    #expect(error.string("error") == "duty write failed")
    #expect(error.int("errno") == Int64(EISDIR))
    #expect(error.string("reason") == "EISDIR")
    #expect(error.double("requested_percent") == 80)
    #expect(ms(error) == 100)
    #expect(records.filter { $0.task == "fan" && $0.event == "duty" }.count == 1)  // the start's only
    #expect(h.firmware.world.counters[2].errors == 1)
    let kept = h.firmware.world.pwmChannels[0]?.pwm.duty
    #expect(kept == .nanoseconds(4000))
    // The driver takes writes again: the next duty asked for applies.
    fake.remove(dutyCycle)
    fake.file(dutyCycle, "4000")
    fake.file("temp", "24")
    records = try h.run(until: 250)
    #expect(fake.read(dutyCycle) == "8000")
    #expect(
      records.filter { $0.task == "fan" && $0.event == "duty" }.map { $0.double("duty_percent") } == [10, 20])
    #expect(h.firmware.world.counters[2].errors == 1)
  }
}
