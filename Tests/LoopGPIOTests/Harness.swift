// Test tasks and a world for GPIO tests: a reader task that takes every edge of every input
// line (recording it, or only its latency in a preallocated buffer for the allocation and rate
// tests), the stimulus driver as a task, and a stopper that ends the run at a set time.

import LoopCore
import LoopGPIO
import LoopLinux
import LoopTesting

/// An edge as a test sees it: which input line, and the event.
struct Seen: Equatable, CustomStringConvertible {
  var line: Int
  var event: EdgeEvent

  var description: String {
    "\(line):\(event.edge == .rising ? "R" : "F")@\(event.timestamp.nanoseconds)"
  }
}

/// What the GPIO test tasks share.
struct EdgeWorld: ~Copyable {
  var lines: InlineArray<4, InputLine?> = InlineArray { _ in nil }
  var lineCount = 0
  var driver = StimulusDriver<4, 4>()
  /// Every edge the reader took, unless `latencies` is set.
  var seen: [Seen] = []
  /// When set, the reader stores `now - timestamp` here instead of appending to `seen`
  /// (no allocation on the event path).
  var latencies: UnsafeMutableBufferPointer<Int64>?
  var taken = 0
  /// The executor stops once this many edges were taken.
  var stopAfter = Int.max
  /// Times the reader was polled.
  var readerPolls = 0

  mutating func add(_ line: consuming InputLine) -> Int {
    lines[lineCount] = .some(line)
    lineCount += 1
    return lineCount - 1
  }

  func counters(_ line: Int) -> LineCounters { lines[line]!.counters }
  func source(_ line: Int) -> LineSource { lines[line]!.source }
  func initialLevel(_ line: Int) -> Bool? { lines[line]!.initialLevel }
  func queued(_ line: Int) -> Int { lines[line]!.queued }
  func eventFD(_ line: Int) -> Int32 { lines[line]!.eventFD }
}

/// The GPIO test tasks.
enum EdgeTask: TaskBody {
  typealias World = EdgeWorld

  /// Takes every edge of every line, each time one is ready.
  case reader
  /// Runs `world.driver` until its scripts are done.
  case driver
  /// Stops the executor at `at`.
  case stopper(at: Instant)

  mutating func poll<S: Scheduler & ~Copyable>(_ cx: inout Context<S>, _ world: inout EdgeWorld)
    -> Poll<Void>
  {
    switch self {
    case .reader:
      world.readerPolls += 1
      for i in 0..<world.lineCount {
        while case .ready(let event) = try! world.lines[i]!.poll(&cx) {
          if let latencies = world.latencies {
            if world.taken < latencies.count {
              latencies[world.taken] = (cx.now - event.timestamp).nanoseconds
            }
          } else {
            world.seen.append(Seen(line: i, event: event))
          }
          world.taken += 1
          if world.taken >= world.stopAfter { cx.stopExecutor() }
        }
      }
      return .pending
    case .driver:
      return try! world.driver.poll(&cx)
    case .stopper(let at):
      guard case .ready = try! cx.sleep(until: at) else { return .pending }
      cx.stopExecutor()
      return .ready(())
    }
  }
}

/// A Raspberry Pi 4 as the mock sees it: the header chip and the expander.
func pi4() -> SimulatedGPIO {
  var mock = SimulatedGPIO()
  mock.addChip(name: "gpiochip0", label: "pinctrl-bcm2711", lines: 58)
  mock.addChip(name: "gpiochip1", label: "raspberrypi-exp-gpio", lines: 8, prefix: "EXP")
  return mock
}

/// The header chip of `pi4()`.
let header = ChipSelector.label(GPIOName("pinctrl-bcm2711"))

/// Requests `name` on the header chip as an input raising interrupt `interrupt`, and moves its
/// port into `driver`; returns the port index.
func addInput(
  _ mock: inout SimulatedGPIO, _ world: inout EdgeWorld, _ name: StaticString, interrupt: Int,
  edges: EdgeDetection = .both, bias: Bias = .asIs, activeLow: Bool = false, debounce: Duration = .zero
) throws -> Int {
  let config = InputConfig(
    interrupt: Interrupt(interrupt), edges: edges, bias: bias, activeLow: activeLow, debounce: debounce)
  let line = try mock.requestInput(LineSelector(name), on: header, config)
  let port = mock.takePort(for: line)!
  let index = try world.driver.add(port)
  _ = world.add(line)
  return index
}

/// The message of a GPIO error as a String.
func text(_ error: GPIOError) -> String {
  error.withMessage { String(decoding: $0, as: UTF8.self) }
}

/// `n` milliseconds after the virtual origin.
func ms(_ n: Int64) -> Instant { Instant(nanoseconds: n * 1_000_000) }

/// `n` microseconds after the virtual origin.
func us(_ n: Int64) -> Instant { Instant(nanoseconds: n * 1_000) }
