// Blinky: the LED on GPIO25 toggles every 500 ms (embassy: examples/rp/src/bin/blinky.rs).
// Runs on the host with a simulated chip; on a Pi, swap `SimulatedGPIO` for `LibgpiodSystem`.

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
    while case .ready(let tick) = try! ticker.poll(&cx) {  // try!: one task, one timer, never full.
      try! board.led.toggle(at: cx.now)
      say(board.led.value ? "LED on" : "LED off", at: tick.scheduled - board.start)
      toggles -= 1
      if toggles == 0 { return .ready(()) }  // Frees the slot; `run` returns when none is left.
    }
    return .pending  // The ticker armed the task's timer: nothing runs until it fires.
  }
}

/// The simulated GPIO chips, alive as long as the program (embassy: the peripherals from
/// `embassy_rp::init`). On a Pi: `LibgpiodSystem()`, and `try gpio.prepare()` before a request.
nonisolated(unsafe) var gpio = SimulatedGPIO()

/// Starts the board and runs the executor (embassy: `#[embassy_executor::main]`).
func main() {
  // 1 task slot, 1 timer; the platform is one epoll fd and one timerfd.
  var executor = Executor<1, 1, Blink, EpollPlatform>(platform: try! EpollPlatform())
  let now = executor.platform.now()
  gpio.addChip(name: "gpiochip0", label: "pinctrl-bcm2711", lines: 58)  // Not on a Pi.
  let chip = ChipSelector.label(GPIOName("pinctrl-bcm2711"))  // A Pi 4's GPIO header chip.
  let led = try! gpio.requestOutput(LineSelector("GPIO25"), on: chip, OutputConfig(), at: now)
  var board = Board(led: led, start: now)
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
