// Startup errors, each with its exact one-line message: chips listed with their labels, a
// chip's line names, the consumer of a busy line, the device and the `gpio` group. The mock
// system is the injected chip list (`FaultyGPIO`, from the test support, adds lines held by
// other consumers and chips without access); the real libgpiod system is run on this host too,
// which has no `/dev/gpiochip*`, as far as the kernel boundary.

import Foundation
import GPIOTestSupport
import LoopCore
import LoopGPIO
import LoopLinux
import Testing

private let input = InputConfig(interrupt: Interrupt(8))

/// Runs `body` and returns the GPIOError it throws.
private func failure<T: ~Copyable>(_ body: () throws(GPIOError) -> T) -> GPIOError? {
  do {
    _ = try body()
    return nil
  } catch {
    return error
  }
}

@Suite struct ErrorTests {
  @Test func chipNotFoundByLabelListsChipsWithLabels() {
    var mock = pi4()
    let error = failure { () throws(GPIOError) in try mock.openChip(.label(GPIOName("pinctrl-rp1"))) }
    #expect(error?.kind == .chipNotFound)
    #expect(
      error.map(text)
        == "gpio: no chip labelled \"pinctrl-rp1\"; chips: gpiochip0 [pinctrl-bcm2711] (58 lines), "
        + "gpiochip1 [raspberrypi-exp-gpio] (8 lines)")
  }

  @Test func chipNotFoundByName() {
    var mock = pi4()
    let error = failure { () throws(GPIOError) in try mock.openChip(.name(GPIOName("gpiochip4"))) }
    #expect(error?.kind == .chipNotFound)
    #expect(error?.errno == .noEntry)
    #expect(
      error.map(text)?.hasPrefix("gpio: no chip named \"gpiochip4\"; chips: gpiochip0 [pinctrl-bcm2711]")
        == true)
  }

  @Test func noChipsAtAll() {
    var mock = SimulatedGPIO()
    let error = failure { () throws(GPIOError) in try mock.openChip(header) }
    #expect(
      error.map(text)
        == "gpio: no chip labelled \"pinctrl-bcm2711\"; no GPIO chips found "
        + "(no /dev/gpiochip*: a kernel without GPIO support?)")
  }

  @Test func chipFoundByLabelNameAndPath() throws {
    var mock = pi4()
    #expect(try mock.openChip(.label(GPIOName("raspberrypi-exp-gpio"))).name == GPIOName("gpiochip1"))
    #expect(try mock.openChip(.name(GPIOName("gpiochip0"))).label == GPIOName("pinctrl-bcm2711"))
    #expect(try mock.openChip(.path(GPIOName("/dev/gpiochip1"))).lineCount == 8)
  }

  @Test func lineNotFoundListsTheChipsLineNames() {
    var mock = SimulatedGPIO()
    mock.addChip(name: "gpiochip0", label: "pinctrl-test", lines: 4)
    mock.nameLine(chip: 0, offset: 3, GPIOName())
    let error = failure { () throws(GPIOError) in
      try mock.requestInput(LineSelector("GPIO17", or: "PIN11"), on: .label(GPIOName("pinctrl-test")), input)
    }
    #expect(error?.kind == .lineNotFound)
    #expect(
      error.map(text)
        == "gpio: no line named \"GPIO17\" (nor \"PIN11\") on gpiochip0 [pinctrl-test]; "
        + "its lines: GPIO0, GPIO1, GPIO2 (4 lines, 1 unnamed)")
  }

  /// A Pi 5 on kernel 6.1 names header lines after the pin: the alternative matches and the
  /// source says which name was used.
  @Test func alternativeNameMatchesAndSaysSo() throws {
    var mock = pi4()
    mock.nameLine(chip: 0, offset: 17, GPIOName("PIN11"))
    let line = try mock.requestInput(LineSelector("GPIO17", or: "PIN11"), on: header, input)
    #expect(line.source.matched == 1)
    #expect(line.source.name == GPIOName("PIN11"))
    #expect(line.source.offset == 17)
    // The preferred name wins even when an alternative sits on a lower offset.
    let other = try mock.requestInput(
      LineSelector("GPIO27", or: "GPIO3"), on: header, InputConfig(interrupt: Interrupt(9)))
    #expect(other.source.matched == 0)
    #expect(other.source.offset == 27)
  }

  @Test func offsetIsTheLastResort() throws {
    var mock = pi4()
    let line = try mock.requestInput(LineSelector("SDA1", offset: 2), on: header, input)
    #expect(line.source.matched == -1)
    #expect(line.source.name == GPIOName("GPIO2"))
    let error = failure { () throws(GPIOError) in
      try mock.requestInput(LineSelector("SDA1", offset: 60), on: header, input)
    }
    #expect(
      error.map(text)?.hasPrefix(
        "gpio: no line named \"SDA1\" and no offset 60 on gpiochip0 [pinctrl-bcm2711]; its lines: GPIO0, GPIO1,"
      ) == true)
  }

  @Test func lineBusyNamesTheConsumer() {
    var mock = FaultyGPIO(pi4())
    mock.markBusy(chip: 0, offset: 17, consumer: GPIOName("gpio-keys"))
    let error = failure { () throws(GPIOError) in
      try mock.requestInput(LineSelector("GPIO17"), on: header, input)
    }
    #expect(error?.kind == .lineBusy)
    #expect(error?.errno == .busy)
    #expect(
      error.map(text)
        == "gpio: line GPIO17 (gpiochip0 [pinctrl-bcm2711] offset 17) is busy: used by \"gpio-keys\"")
  }

  @Test func lineBusyWithoutAConsumerName() {
    var mock = FaultyGPIO(pi4())
    mock.markBusy(chip: 0, offset: 4, consumer: GPIOName())
    let error = failure { () throws(GPIOError) in
      try mock.requestOutput(LineSelector("GPIO4"), on: header, OutputConfig(), at: .zero)
    }
    #expect(
      error.map(text)
        == "gpio: line GPIO4 (gpiochip0 [pinctrl-bcm2711] offset 4) is busy: another consumer holds it (it gave no name)"
    )
  }

  @Test func lineRequestedTwiceIsBusyWithOurName() throws {
    var mock = pi4()
    let first = try mock.requestInput(LineSelector("GPIO17"), on: header, input)
    _ = first
    let error = failure { () throws(GPIOError) in
      try mock.requestInput(LineSelector("GPIO17"), on: header, input)
    }
    #expect(error.map(text)?.hasSuffix("is busy: used by \"sensorloop\"") == true)
  }

  @Test func permissionDeniedNamesTheDeviceAndTheGroup() {
    var mock = FaultyGPIO(pi4())
    mock.denyAccess(chip: 0)
    let expected =
      "gpio: permission denied opening /dev/gpiochip0: the user needs to be in the \"gpio\" group "
      + "(sudo usermod -aG gpio $USER, then log in again)"
    let byName = failure { () throws(GPIOError) in try mock.openChip(.name(GPIOName("gpiochip0"))) }
    #expect(byName?.kind == .permissionDenied)
    #expect(byName.map(text) == expected)
    // Looking for a label, a chip this user cannot open may be the one: say so, not "not found".
    let byLabel = failure { () throws(GPIOError) in try mock.openChip(header) }
    #expect(byLabel.map(text) == expected)
    // A listing shows the chip it could not open.
    let listing = failure { () throws(GPIOError) in try mock.openChip(.name(GPIOName("gpiochip9"))) }
    #expect(
      listing.map(text)
        == "gpio: no chip named \"gpiochip9\"; chips: gpiochip0 [no access], gpiochip1 [raspberrypi-exp-gpio] (8 lines)"
    )
  }

  @Test func longMessagesAreTruncatedNotFatal() {
    var text = FixedText<8>("abc")
    text.append("defghij")
    #expect(text.count == 7)
    #expect(text.truncated)
    #expect(text == FixedText<8>("abcdefg"))
  }
}

/// The libgpiod system on this host, which has no GPIO chip: listing and opening go through
/// libgpiod to the kernel and fail as a user would see it.
@Suite(.enabled(if: !FileManager.default.fileExists(atPath: "/dev/gpiochip0")))
struct LibgpiodOnHostTests {
  @Test func noChipsListed() {
    var system = LibgpiodSystem()
    var chips = 0
    system.forEachChip { _ in chips += 1 }
    #expect(chips == 0)
    let error = failure { () throws(GPIOError) in try system.openChip(.label(GPIOName("pinctrl-bcm2711"))) }
    #expect(error?.kind == .chipNotFound)
    #expect(
      error.map(text)?.hasSuffix("no GPIO chips found (no /dev/gpiochip*: a kernel without GPIO support?)")
        == true)
  }

  @Test func aMissingPathIsNotFound() {
    var system = LibgpiodSystem()
    let error = failure { () throws(GPIOError) in try system.openChip(.path(GPIOName("/dev/gpiochip9"))) }
    #expect(error?.kind == .chipNotFound)
    #expect(error?.errno == .noEntry)
    // The message names the libgpiod it went through (v1 or v2, whichever this host loads).
    #expect(error.map(text)?.hasPrefix("gpio: no chip at \"/dev/gpiochip9\" (libgpiod ") == true)
    #expect(error.map(text)?.contains("); no GPIO chips found") == true)
  }

  @Test func aDeviceThatIsNotAChip() {
    var system = LibgpiodSystem()
    let error = failure { () throws(GPIOError) in try system.openChip(.path(GPIOName("/dev/null"))) }
    #expect(error?.kind == .notAChip)
    #expect(error.map(text)?.hasPrefix("gpio: /dev/null is not a GPIO chip: ") == true)
  }
}

/// The board program's one `GPIOSystem`: each side reaches its own backend only.
@Suite struct BoardGPIOTests {
  @Test func simulatedGoesToTheMockChip() throws {
    var gpio = BoardGPIO(simulated: true)
    gpio.mock.addChip(name: "gpiochip0", label: "sensorloop-sim", lines: 2)
    var chips = 0
    gpio.forEachChip { _ in chips += 1 }
    #expect(chips == 1)
    #expect(try gpio.openChip(.label(GPIOName("sensorloop-sim"))).name == GPIOName("gpiochip0"))
    #expect(gpio.openedChip?.path == GPIOName("/dev/gpiochip0"))
    let line = try gpio.requestInput(LineSelector("GPIO1"), on: .name(GPIOName("gpiochip0")), input)
    #expect(line.source.offset == 1)
    let port = gpio.mock.takePort(for: line)
    let taken = port != nil
    #expect(taken)
  }

  @Test(.enabled(if: !FileManager.default.fileExists(atPath: "/dev/gpiochip0")))
  func realGoesToLibgpiodEvenWithAMockChip() {
    var gpio = BoardGPIO(simulated: false)
    gpio.mock.addChip(name: "gpiochip0", label: "sensorloop-sim", lines: 2)
    let error = failure { () throws(GPIOError) in try gpio.openChip(.label(GPIOName("sensorloop-sim"))) }
    #expect(error?.kind == .chipNotFound)
    #expect(
      error.map(text)?.hasSuffix("no GPIO chips found (no /dev/gpiochip*: a kernel without GPIO support?)")
        == true)
  }
}
