// Hardware PWM through /sys/class/pwm on a fake tree (sysfs-class-pwm's layout: pwmchipN with
// npwm, export, unexport and device/uevent; pwmchipN/pwmM with period, duty_cycle, polarity and
// enable). A fake tree cannot make the kernel's pwmM directory appear on export, so a channel is
// either made "already exported" by the test or the export write itself is checked.

import AllocCounter
import Foundation
import LoopCore
import LoopGPIO
import LoopLinux
import Testing

/// A chip `pwmchip<n>` with `npwm` channels, driven by `driver`, channels in `exported` present.
private func chip(_ fake: FakeSysfs, _ n: Int, npwm: Int, driver: String, compatible: String, exported: [Int])
{
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
    chip(fake, 0, npwm: 2, driver: "pwm-bcm2835", compatible: "brcm,bcm2835-pwm", exported: [1])
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
    chip(fake, 0, npwm: 4, driver: "rp1-pwm", compatible: "raspberrypi,rp1-pwm", exported: [])
    chip(fake, 1, npwm: 2, driver: "pwm-bcm2835", compatible: "brcm,bcm2835-pwm", exported: [0])
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
    chip(fake, 0, npwm: 2, driver: "pwm-bcm2835", compatible: "brcm,bcm2835-pwm", exported: [])
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
    chip(fake, 0, npwm: 2, driver: "pwm-bcm2835", compatible: "brcm,bcm2835-pwm", exported: [0])
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
    chip(fake, 0, npwm: 2, driver: "pwm-bcm2835", compatible: "brcm,bcm2835-pwm", exported: [])
    let missing = failure(fake) { () throws(PWMError) in
      try HardwarePWM(root: fake.path, chip: .only, channel: 1, period: .milliseconds(1))
    }
    #expect(fake.read("class/pwm/pwmchip0/export") == "1")
    #expect(missing?.message == "the chip did not create the channel's directory after export")
    #expect(missing?.path == "/class/pwm/pwmchip0/pwm1")
  }
}
