// Blinky: the LED on GPIO25 toggles every 500 ms (embassy: examples/rp/src/bin/blinky.rs).
// Runs on the host with a simulated chip; on a Pi, swap `MockGPIO` for `LibgpiodSystem`.

import LoopCore
import LoopGPIO
import LoopLinux

/// What the tasks share (embassy: the peripherals moved into the task). Here: the LED.
struct Board: ~Copyable {
  var led: OutputLine
  var start = Instant.zero  // For the printed times.
}

/// The one task. Embassy's `loop { led.toggle(); Timer::after_millis(500).await }` is a poll
/// that does the work due now and returns `.pending` after arming a wake (the `Ticker`).
struct Blink: TaskBody {
  var ticker: Ticker
  var toggles = 6  // A firmware would loop forever; the example stops so CI can run it.

  mutating func poll<S: Scheduler & ~Copyable>(_ cx: inout Context<S>, _ board: inout Board) -> Poll<Void> {
    while case .ready = try! ticker.poll(&cx) {  // try!: one task, one timer, never full.
      try! board.led.toggle(at: cx.now)
      say(board.led.value ? "LED on" : "LED off", at: cx.now - board.start)
      toggles -= 1
      if toggles == 0 { return .ready(()) }  // Frees the slot; `run` returns when none is left.
    }
    return .pending  // The ticker armed the task's timer: nothing runs until it fires.
  }
}

/// Starts the board and runs the executor (embassy: `#[embassy_executor::main]`).
func main() {
  var gpio = MockGPIO()  // On a Pi: `LibgpiodSystem()` and `.label(GPIOName("pinctrl-bcm2711"))` is real.
  gpio.addChip(name: "gpiochip0", label: "pinctrl-bcm2711", lines: 58)
  var platform = try! EpollPlatform()  // One epoll fd and one timerfd.
  let now = platform.now()
  let led = try! gpio.requestOutput(
    LineSelector("GPIO25"), on: .label(GPIOName("pinctrl-bcm2711")), OutputConfig(), at: now)
  var board = Board(led: led, start: now)
  var executor = Executor<1, 1, Blink, EpollPlatform>(platform: platform)  // 1 slot, 1 timer.
  try! executor.spawn(Blink(ticker: Ticker(period: .milliseconds(500), first: now)))
  _ = executor.run(&board)  // Blocks in epoll_wait between ticks.
}

/// Prints `what` and the time since the start on stdout (one write, no allocation).
func say(_ what: StaticString, at time: Duration) {
  var line = ConsoleLine(what)
  line.append(" at ")
  line.append(decimal: time.nanoseconds / 1_000_000)
  line.append(" ms")
  Console.write(line)
}
