// ButtonLED: a button on GPIO17 toggles the LED on GPIO25; holding it for 1 s turns the LED off
// (embassy: examples/rp/src/bin/button.rs, plus debounce and a long press). On the host a
// simulated hand presses the button; on a Pi, swap `SimulatedGPIO` for `LibgpiodSystem` and drop
// the `.hand` task.

import LoopCore
import LoopGPIO
import LoopLinux

/// A press held this long is a long press.
let longPress = Duration.seconds(1)

/// What the tasks share: the lines, and the simulated hand that presses the button.
struct Board: ~Copyable {
  var button: InputLine
  var led: OutputLine
  var hand = StimulusDriver<1, 8>()  // 1 mock port, up to 8 scripted presses at once.
  var longPresses = 0
}

/// The button logic. Embassy would write `select(button.wait_for_high(), Timer::after(1s))`
/// inside an `async fn`; here the same select is one poll, and the state between polls is a field.
struct ButtonLogic {
  var pressedAt: Instant?  // Set while the button is held and the long press has not fired.

  mutating func poll<S: Scheduler & ~Copyable>(_ cx: inout Context<S>, _ board: inout Board) -> Poll<Void> {
    while true {
      let deadline = pressedAt.map { $0 + longPress } ?? .distantFuture  // distantFuture: no timer.
      // The next debounced edge, or the long-press deadline while held: both arm their wakers.
      let next = select(
        &cx, { cx in try! board.button.poll(&cx) }, { cx in try! cx.sleep(until: deadline) })
      switch next {
      case .pending:
        return .pending
      case .ready(.first(let event)) where event.edge == .rising:  // Pressed (debounced).
        pressedAt = event.timestamp
      case .ready(.first):  // Released: a short press unless the long press has fired.
        if pressedAt != nil {
          try! board.led.toggle(at: cx.now)
          Console.write(board.led.value ? "short press: LED on" : "short press: LED off")
        }
        pressedAt = nil
      case .ready(.second):  // Held for `longPress`.
        pressedAt = nil
        board.longPresses += 1
        try! board.led.set(false, at: cx.now)
        Console.write("long press: LED off")
      }
    }
  }
}

/// The application's tasks, one case each (embassy: one `#[task]` fn each); `spawn` takes a value.
enum ButtonLED: TaskBody {
  case logic(ButtonLogic)
  /// The simulated hand: plays `board.hand`'s script, and stops the executor at `end`.
  case hand(end: Instant)

  mutating func poll<S: Scheduler & ~Copyable>(_ cx: inout Context<S>, _ board: inout Board) -> Poll<Void> {
    switch self {
    case .logic(var logic):
      defer { self = .logic(logic) }  // The task's state lives in its slot between polls.
      return logic.poll(&cx, &board)
    case .hand(let end):
      _ = try! board.hand.poll(&cx)  // Writes the edges due; arms a wake for the next one.
      guard case .ready = try! cx.sleep(until: end) else { return .pending }
      cx.stopExecutor()
      return .ready(())
    }
  }
}

/// The button's request: pulled up, so pressing pulls it low (active-low reads "pressed" as
/// high); 20 ms debounce; interrupt line 0 (each input line raises its own).
let buttonConfig = InputConfig(
  interrupt: Interrupt(0), edges: .both, bias: .pullUp, activeLow: true, debounce: .milliseconds(20))

/// Scripts presses with contact bounce, `ms` after `start`: short, long, short.
func scriptPresses(_ hand: inout StimulusDriver<1, 8>, from start: Instant) {
  func press(_ downMs: Int64, _ upMs: Int64) {
    // Pressing pulls the pin low; each contact bounces twice, 300 µs apart, then settles.
    let down = start + .milliseconds(downMs)
    let up = start + .milliseconds(upMs)
    try! hand.schedule(.bounce(port: 0, start: down, high: false, bounces: 2, spacing: .microseconds(300)))
    try! hand.schedule(.bounce(port: 0, start: up, high: true, bounces: 2, spacing: .microseconds(300)))
  }
  press(200, 400)
  press(1_000, 2_500)
  press(3_000, 3_200)
}

/// A simulated Pi 4 with the button and LED requested, the hand holding the button's port and
/// the presses scripted from `now`. On a Pi: `LibgpiodSystem()`, no hand.
func simulatedBoard(at now: Instant) -> Board {
  var gpio = SimulatedGPIO()
  gpio.addChip(name: "gpiochip0", label: "pinctrl-bcm2711", lines: 58)
  let button = try! gpio.requestInput(
    LineSelector("GPIO17"), on: .label(GPIOName("pinctrl-bcm2711")), buttonConfig)
  let led = try! gpio.requestOutput(
    LineSelector("GPIO25"), on: .label(GPIOName("pinctrl-bcm2711")), OutputConfig(), at: now)
  var board = Board(button: button, led: led)
  _ = try! board.hand.add(gpio.takePort(for: board.button)!)
  scriptPresses(&board.hand, from: now)
  return board
}

func main() {
  var platform = try! EpollPlatform()
  let now = platform.now()
  var board = simulatedBoard(at: now)
  try! platform.watch(line: board.button)  // The line's fd raises interrupt 0 through epoll.
  var executor = Executor<2, 2, ButtonLED, EpollPlatform>(platform: platform)  // 2 slots, 2 timers.
  try! executor.spawn(.logic(ButtonLogic()))
  try! executor.spawn(.hand(end: now + .milliseconds(3_500)))
  _ = executor.run(&board)
}
