// Hardware PWM through the kernel's sysfs interface (Documentation/ABI/testing/sysfs-class-pwm):
// /sys/class/pwm/pwmchipN/{npwm, export, unexport} and, once a channel is exported,
// pwmchipN/pwmM/{period, duty_cycle, polarity, enable}, times in nanoseconds. On a Raspberry Pi
// the chip exists once an overlay asks for it: `dtoverlay=pwm-2chan` (GPIO18 and GPIO19) or
// `dtoverlay=pwm` (one channel). The chip generates the wave: no CPU time, no jitter, unlike the
// software PWM any line can do.
//
// Opening (startup) finds the chip, exports the channel, sets period and polarity with the
// channel disabled, then the duty, then enables it. A duty change afterwards is one write of a
// sysfs attribute that the driver turns into register writes (microseconds, no bus transfer),
// so the loop does it itself; it writes only when the duty changes.

import LoopCore
import LoopLinux

/// Which PWM chip to use.
public enum PWMChipSelector: Equatable, Sendable {
  /// The only chip there is (an error lists them when there are several).
  case only
  /// `pwmchipN`.
  case number(Int)
  /// The chip whose driver or device-tree compatible string is this (`pwm-bcm2835`,
  /// `brcm,bcm2835-pwm`, `raspberrypi,rp1-pwm`), from its device's `uevent`.
  case driver(ShortPWMName)
}

/// A chip or driver name: at most 63 bytes.
public typealias ShortPWMName = FixedText<64>

/// A PWM output's polarity: `normal` is high for the duty, `inversed` low for it.
public enum PWMPolarity: Equatable, Sendable {
  case normal, inversed

  /// The word the kernel uses.
  public var name: StaticString {
    switch self {
    case .normal: "normal"
    case .inversed: "inversed"
    }
  }
}

/// Why a PWM channel could not be set up or driven.
public typealias PWMError = SysfsSetupError

extension SysfsSetupError {
  /// The overlay a board needs for hardware PWM.
  public static let overlayHint: StaticString =
    "enable hardware PWM: dtoverlay=pwm-2chan in /boot/firmware/config.txt (PWM on GPIO18 and GPIO19), then reboot"
}

/// One hardware PWM channel, exported and configured.
public struct HardwarePWM: Sendable {
  /// Chips probed (pwmchip0…).
  public static let probedChips = 16
  /// The longest wait after `export` for udev to give the channel's files to the gpio group.
  public static let udevWait = Duration.seconds(2)

  /// The chip's directory (`…/class/pwm/pwmchipN`).
  public private(set) var chip = SysfsPath()
  /// The channel's directory (`…/pwmchipN/pwmM`).
  public private(set) var directory = SysfsPath()
  /// The channel number on the chip.
  public let channel: Int
  /// The period.
  public private(set) var period: Duration
  /// The duty (high time with normal polarity) last written.
  public private(set) var duty: Duration
  /// Whether the output is enabled.
  public private(set) var enabled = false
  /// The polarity.
  public let polarity: PWMPolarity
  /// Duty writes the driver refused after startup.
  public private(set) var errors: UInt64 = 0

  /// Finds the chip under `root` (`/sys` on a board), exports `channel`, and starts it with
  /// `period`, `polarity` and `duty` (enabled). Startup only.
  @inline(never)
  public init(
    root: SysfsPath, chip selector: PWMChipSelector, channel: Int, period: Duration, duty: Duration = .zero,
    polarity: PWMPolarity = .normal
  ) throws(PWMError) {
    precondition(
      period > .zero && duty >= .zero && duty <= period, "HardwarePWM.init: duty outside the period")
    self.channel = channel
    self.period = period
    self.duty = duty
    self.polarity = polarity
    // The steps write their failure into `failure` and return false; it is thrown once here (a
    // 450-byte error thrown at every step was copied at every step).
    var failure = PWMError("", path: root)
    guard start(root, selector, &failure) else { throw failure }
  }

  /// `init`'s steps: false with `failure` written when one fails.
  private mutating func start(_ root: SysfsPath, _ selector: PWMChipSelector, _ failure: inout PWMError)
    -> Bool
  {
    var classDir = root
    classDir.append("/class/pwm")
    guard HardwarePWM.findChip(classDir, selector, into: &chip, &failure) else { return false }
    var npwmPath = chip
    npwmPath.append("/npwm")
    let npwmText: SysfsText
    do throws(Errno) { npwmText = try SysfsFile.read(npwmPath) } catch {
      failure.set("cannot read the chip's npwm", path: npwmPath, errno: error.rawValue)
      return false
    }
    guard let npwm = npwmText.unsignedValue else {
      failure.set("the chip's npwm is not a number", path: npwmPath)
      return false
    }
    guard channel >= 0 && channel < npwm else {
      failure.set("no such channel on the chip", path: chip)
      failure.found.append("channels 0 to ")
      failure.found.append(decimal: npwm - 1)
      return false
    }
    directory = chip
    directory.append("/pwm")
    directory.append(decimal: channel)
    if !SysfsFile.exists(directory) {
      var export = chip
      export.append("/export")
      var number = FixedText<32>()
      number.append(decimal: channel)
      do throws(Errno) { try SysfsFile.write(export, number) } catch {
        let hint: StaticString =
          error == .busy
          ? "the channel is held by a kernel driver (pwm-fan, a backlight): free it in the device tree"
          : error == .accessDenied ? "run as root or add the user to the gpio group" : ""
        failure.set("cannot export the channel", path: export, errno: error.rawValue, hint: hint)
        return false
      }
      guard SysfsFile.exists(directory) else {
        failure.set("the chip did not create the channel's directory after export", path: directory)
        return false
      }
      // udev hands the new files to the gpio group a moment after export (Pi OS's 99-com.rules).
      var enable = directory
      enable.append("/enable")
      _ = SysfsFile.waitUntilWritable(enable, timeout: HardwarePWM.udevWait)
    }
    // Polarity may only change while disabled, and the duty never exceeds the period: disable,
    // zero the duty, then period, polarity, duty, enable.
    guard setup("enable", 0, &failure), setup("duty_cycle", 0, &failure),
      setup("period", period.nanoseconds, &failure), setupPolarity(&failure),
      setup("duty_cycle", duty.nanoseconds, &failure), setup("enable", 1, &failure)
    else { return false }
    enabled = true
    return true
  }

  /// Sets the duty (at most the period); written only when it changes. A refusal is counted in
  /// `errors` and thrown.
  public mutating func setDuty(_ newDuty: Duration) throws(Errno) {
    let clamped = newDuty < .zero ? .zero : newDuty > period ? period : newDuty
    if clamped == duty { return }
    do throws(Errno) {
      try write("duty_cycle", clamped.nanoseconds)
    } catch {
      errors += 1
      throw error
    }
    duty = clamped
  }

  /// Sets the duty as a fraction of the period (0 … 1, held to that range), rounded to the
  /// nanosecond.
  public mutating func setDuty(fraction: Double) throws(Errno) {
    let f = fraction.isNaN ? 0 : fraction < 0 ? 0 : fraction > 1 ? 1 : fraction
    let ns = (Double(period.nanoseconds) * f).rounded()
    try setDuty(Duration(nanoseconds: Int64(ns)))
  }

  /// Enables or disables the output.
  public mutating func setEnabled(_ on: Bool) throws(Errno) {
    if on == enabled { return }
    try write("enable", on ? 1 : 0)
    enabled = on
  }

  /// Disables the output and unexports the channel (at shutdown), so another program or a
  /// reload can take it. Errors are ignored: there is nobody left to tell.
  public mutating func release() {
    try? setEnabled(false)
    var unexport = chip
    unexport.append("/unexport")
    var number = FixedText<32>()
    number.append(decimal: channel)
    try? SysfsFile.write(unexport, number)
  }

  private func write(_ attribute: StaticString, _ value: Int64) throws(Errno) {
    var path = directory
    path.append("/")
    path.append(attribute)
    var text = FixedText<32>()
    text.append(decimal: value)
    try SysfsFile.write(path, text)
  }

  private func setup(_ attribute: StaticString, _ value: Int64, _ failure: inout PWMError) -> Bool {
    do throws(Errno) { try write(attribute, value) } catch {
      var path = directory
      path.append("/")
      path.append(attribute)
      let hint: StaticString =
        error == .accessDenied
        ? "run as root or add the user to the gpio group (Pi OS's udev rules give it /sys/class/pwm)" : ""
      failure.set("the driver refused a setting", path: path, errno: error.rawValue, hint: hint)
      return false
    }
    return true
  }

  private func setupPolarity(_ failure: inout PWMError) -> Bool {
    var path = directory
    path.append("/polarity")
    // A chip without polarity support has no such file; normal is then what it does.
    if !SysfsFile.exists(path) {
      if polarity == .normal { return true }
      failure.set("the chip cannot invert its output", path: path)
      return false
    }
    do throws(Errno) { try SysfsFile.write(path, FixedText<32>(polarity.name)) } catch {
      failure.set("the driver refused the polarity", path: path, errno: error.rawValue)
      return false
    }
    return true
  }

  /// The chip `selector` names, among `classDir/pwmchip0…15`, into `match`; false with `failure`
  /// when there is none or the choice is not clear.
  @inline(never)
  static func findChip(
    _ classDir: SysfsPath, _ selector: PWMChipSelector, into match: inout SysfsPath, _ failure: inout PWMError
  ) -> Bool {
    var found = FixedText<128>()
    var matches = 0
    for n in 0..<probedChips {
      var dir = classDir
      dir.append("/pwmchip")
      dir.append(decimal: n)
      guard SysfsFile.exists(dir) else { continue }
      var uevent = dir
      uevent.append("/device/uevent")
      let description = (try? SysfsFile.read(uevent)) ?? SysfsText()
      if !found.isEmpty { found.append(", ") }
      found.append("pwmchip")
      found.append(decimal: n)
      let driver = HardwarePWM.value(of: "DRIVER=", in: description)
      if !driver.isEmpty {
        found.append(" (")
        found.append(driver)
        found.append(")")
      }
      let selected: Bool
      switch selector {
      case .only: selected = true
      case .number(let number): selected = number == n
      case .driver(let name): selected = HardwarePWM.describes(description, name)
      }
      if selected {
        if matches == 0 { match = dir }
        matches += 1
      }
    }
    if found.isEmpty {
      failure.set("no PWM chip", path: classDir, hint: PWMError.overlayHint)
      return false
    }
    var only = false
    if case .only = selector { only = true }
    if matches == 1 || (matches > 1 && !only) { return true }
    if matches == 0 {
      failure.set("no such PWM chip", path: classDir, hint: PWMError.overlayHint)
    } else {
      failure.set("several PWM chips: give the chip's number or driver", path: classDir)
    }
    failure.found = found
    return false
  }

  /// Whether the uevent text names `name` as its DRIVER or one of its OF_COMPATIBLE strings.
  static func describes(_ uevent: SysfsText, _ name: ShortPWMName) -> Bool {
    var at = 0
    while let line = nextLine(uevent, &at) {
      guard line.hasPrefix("DRIVER=") || line.hasPrefix("OF_COMPATIBLE_") else { continue }
      var start = 0
      while start < line.count && line[start] != 0x3D { start += 1 }
      if tail(line, from: start + 1) == name { return true }
    }
    return false
  }

  /// The value of the `key` line (`DRIVER=`) in a uevent text, empty when absent.
  static func value(of key: StaticString, in uevent: SysfsText) -> ShortPWMName {
    var at = 0
    while let line = nextLine(uevent, &at) {
      if line.hasPrefix(key) { return tail(line, from: key.utf8CodeUnitCount) }
    }
    return ShortPWMName()
  }

  /// The line of `text` that starts at `at` (cut at 63 bytes), and `at` moved past its newline;
  /// nil past the end (the text after the last newline is a line, empty or not).
  @inline(never)
  static func nextLine(_ text: SysfsText, _ at: inout Int) -> ShortPWMName? {
    guard at <= text.count else { return nil }
    var line = ShortPWMName()
    while at < text.count && text[at] != 0x0A {
      line.append(byte: text[at])
      at += 1
    }
    at += 1
    return line
  }

  /// The bytes of `line` from `start` on.
  @inline(never)
  static func tail(_ line: ShortPWMName, from start: Int) -> ShortPWMName {
    var value = ShortPWMName()
    for k in start..<max(start, line.count) { value.append(byte: line[k]) }
    return value
  }
}
