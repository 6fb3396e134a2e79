// Blinky in virtual time: the clock jumps from one deadline to the next, so 2.5 s of blinking
// takes microseconds, and the LED's recorded history is checked to the nanosecond.

import GPIOTestSupport
import LoopCore
import LoopGPIO
import LoopTesting
import Testing

@testable import Blinky

@Suite struct BlinkyTests {
  /// Six toggles, 500 ms apart from the first tick at 0, then the task ends and `run` returns.
  @Test func togglesEvery500ms() throws {
    var gpio = SimulatedGPIO()
    gpio.addChip(name: "gpiochip0", label: "pinctrl-bcm2711", lines: 58)
    gpio.recordsOutputs = true
    let led = try gpio.requestOutput(
      LineSelector("GPIO25"), on: .label(GPIOName("pinctrl-bcm2711")), OutputConfig(), at: .zero)
    let ledChanges = gpio.takeOutputPort(for: led)!
    var board = Board(led: led)
    var executor = Executor<1, 1, Blink, VirtualPlatform>(platform: VirtualPlatform(advancesToDeadline: true))
    try executor.spawn(Blink(ticker: Ticker(period: .milliseconds(500), first: .zero)))
    #expect(executor.run(&board) == .allTasksFinished)
    // The request at 0 (off), then on/off/on/off/on/off at 0, 500, ..., 2500 ms.
    let seen = ledChanges.changes().map { "\($0.time.nanoseconds / 1_000_000):\($0.value)" }
    #expect(seen == ["0:false", "0:true", "500:false", "1000:true", "1500:false", "2000:true", "2500:false"])
    #expect(executor.platform.time == Instant(nanoseconds: 2_500_000_000))
  }
}
