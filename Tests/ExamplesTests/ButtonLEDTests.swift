// ButtonLED in virtual time with a mock button and scripted, bouncing presses. The test plays
// epoll's part: each millisecond it moves the clock, lets the simulated hand write the edges
// due, raises the button's interrupt when it wrote any, and runs the executor until stalled;
// then it notes the LED's value, so a change is seen to the millisecond it was made.

import LoopCore
import LoopGPIO
import LoopTesting
import Testing

@testable import ButtonLED

@Suite struct ButtonLEDTests {
  /// Short press: on; a 1.5 s press: off after exactly 1 s held; short press: on again.
  @Test func shortLongShort() throws {
    var board = simulatedBoard(at: .zero)  // Presses 200–400, 1000–2500, 3000–3200 ms.
    var executor = Executor<2, 2, ButtonLED, VirtualPlatform>(platform: VirtualPlatform())
    try executor.spawn(.logic(ButtonLogic()))
    var changes = ["0:\(board.led.value)"]
    executor.runUntilStalled(&board)
    while executor.platform.time < Instant(nanoseconds: 3_500_000_000) {
      executor.platform.advance(by: .milliseconds(1))
      let before = board.hand.deliveries
      let led = board.led.value
      board.hand.deliver(upTo: executor.platform.time)
      if board.hand.deliveries != before { executor.platform.raise(buttonConfig.interrupt) }
      executor.runUntilStalled(&board)
      if board.led.value != led {
        changes.append("\(executor.platform.time.nanoseconds / 1_000_000):\(board.led.value)")
      }
    }
    // Released at 400 (toggle on); held from 1000, long press at 2000 (off), the release at
    // 2500 does nothing; released at 3200 (on). Each press bounced 4 times: debounced away.
    #expect(changes == ["0:false", "400:true", "2000:false", "3200:true"])
    #expect(board.longPresses == 1)
    #expect(board.button.counters.debouncedAway == 4 * 6)
  }
}
