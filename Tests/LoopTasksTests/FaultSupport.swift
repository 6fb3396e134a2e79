// Support for the fault-injection tests: a virtual clock a test task can move during its own
// poll (a task that keeps the loop for seconds without yielding, in no real time), a task type
// that adds such test-only tasks to the firmware's own, and a rig that runs both over a
// `FirmwareWorld` on any platform, with records written to a pipe and read back.

import Foundation
import LoopCore
import LoopGPIO
import LoopLinux
import LoopTasks
import LoopTesting
import Testing

/// A virtual clock shared by a platform and the test tasks that move it themselves.
final class SharedClock: @unchecked Sendable {
  var time: Instant
  init(_ time: Instant) { self.time = time }
}

/// A virtual platform on a `SharedClock`: a wait jumps the clock to its deadline, so a run takes
/// no real time, and time passes inside a poll only when a task moves the clock.
struct SharedClockPlatform: Platform {
  let clock: SharedClock

  mutating func now() -> Instant { clock.time }

  mutating func wait(_ limit: WaitLimit, raised: inout InterruptSet) {
    switch limit {
    case .poll: break
    case .deadline(let deadline): if deadline > clock.time { clock.time = deadline }
    case .forever: preconditionFailure("SharedClockPlatform.wait: nothing can ever wake the loop")
    }
  }
}

/// Ticks a policy ticker saw, kept outside the task (the world is the firmware's).
final class TickLog: @unchecked Sendable {
  var ticks: [Tick] = []
  var missed: UInt64 = 0
}

/// A task that does not yield: polled at `at`, it keeps the loop for `spin` (moving a shared
/// virtual clock, or busy-waiting on the real one), then waits forever (its slot, and so its
/// stats, stay). With `deliversStimuli` the scripted edges of the stall are in their lines'
/// queues when it yields, as the kernel queues a real line's edges while the loop is stalled.
struct Hog {
  let at: Instant
  let spin: Duration
  let clock: SharedClock?
  var deliversStimuli = false
  var done = false

  mutating func poll<S: Scheduler & ~Copyable>(_ cx: inout Context<S>) -> Poll<Void> {
    if done { return .pending }
    guard case .ready = try! cx.sleep(until: at) else { return .pending }
    if let clock {
      clock.time += spin
    } else {
      let end = monotonicNow() + spin
      while monotonicNow() < end {}
    }
    done = true
    return .pending
  }
}

/// The firmware's tasks plus test-only ones, over the firmware's world.
enum FaultTask: TaskBody {
  typealias World = FirmwareWorld

  case firmware(FirmwareTask)
  case hog(Hog)
  /// A bare `Ticker` with some missed-tick policy, logging what it delivers.
  case ticker(Ticker, TickLog)

  mutating func poll<S: Scheduler & ~Copyable>(_ cx: inout Context<S>, _ world: inout FirmwareWorld)
    -> Poll<Void>
  {
    switch self {
    case .firmware(var task):
      defer { self = .firmware(task) }
      return task.poll(&cx, &world)
    case .hog(var hog):
      defer { self = .hog(hog) }
      let wasDone = hog.done
      let result = hog.poll(&cx)
      if hog.deliversStimuli && !wasDone && hog.done {
        let now = cx.now
        while let next = world.stimuli.deliver(upTo: now), next <= now {}
        for port in 0..<world.stimuli.count {
          if let line = world.stimulusLines[port] { cx.raise(line) }
        }
      }
      return result
    case .ticker(var ticker, let log):
      defer { self = .ticker(ticker, log) }
      while case .ready(let tick) = try! ticker.poll(&cx) { log.ticks.append(tick) }
      log.missed = ticker.missed
      return .pending
    }
  }
}

/// An executor of `FaultTask`s on platform `P` with a firmware world whose records go to a
/// nonblocking pipe; the output writer is spawned first.
struct FaultRig<P: Platform & ~Copyable>: ~Copyable {
  var executor: Executor<48, 48, FaultTask, P>
  var world: FirmwareWorld
  let pipe: LoopLinux.Pipe
  var text = ""

  init(platform: consuming P, names: [String], watchOutput: (inout P, Int32) throws -> Void = { _, _ in })
    throws
  {
    let pipe = try FileDescriptor.pipe(nonBlocking: true)
    var world = FirmwareWorld(outputFD: pipe.write.rawValue)
    for (i, name) in names.enumerated() { world.names[i] = ShortName(text: name) }
    var executor = Executor<48, 48, FaultTask, P>(platform: platform)
    executor.measuresPollTime = true
    // As `Firmware` does: every task is due at the start.
    let now = executor.platform.now()
    for i in 0..<FirmwareLimits.tasks { world.due[i] = now }
    try watchOutput(&executor.platform, pipe.write.rawValue)
    try executor.spawn(.firmware(.writer(OutputWriter())))
    self.executor = executor
    self.world = world
    self.pipe = pipe
  }

  /// Spawns `task` and returns its waker (for its stats).
  @discardableResult
  mutating func spawn(_ task: FaultTask) throws -> Waker { try executor.spawn(task) }

  /// Runs until `deadline`, then writes what the ring holds and returns every record so far.
  mutating func run(until deadline: Instant) throws -> [Record] {
    try executor.spawn(.firmware(.stopTimer(StopTimer(deadline: deadline))))
    _ = executor.run(&world)
    while case .wrote(let n) = OutputWriter.drainOnce(&world), n > 0 {}
    return readRecords(from: pipe.read.rawValue, into: &text)
  }
}

extension FaultRig {
  /// Requests `count` inputs on a mock chip (line i is input i, stimulus port i), as the
  /// program wires the simulated board.
  mutating func addMockInputs(_ configs: [InputConfig]) throws {
    var gpio = SimulatedGPIO()
    gpio.addChip(name: "gpiochip0", label: "rig", lines: configs.count, prefix: "L")
    for (i, config) in configs.enumerated() {
      var selector = GPIOName("L")
      selector.append(decimal: i)
      world.inputs[i] = try gpio.requestInput(
        LineSelector(selector), on: .name(GPIOName("gpiochip0")), config)
      let port = gpio.takePort(for: world.inputs[i]!)!
      let index = try world.stimuli.add(port)
      world.stimulusLines[index] = FirmwareInterrupt.line(i)
    }
  }
}

/// Reads what `fd` holds into `text` and decodes every complete line so far.
func readRecords(from fd: Int32, into text: inout String) -> [Record] {
  var buffer = [UInt8](repeating: 0, count: 65_536)
  while true {
    let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
    if n <= 0 { break }
    text += String(decoding: buffer[0..<n], as: UTF8.self)
  }
  return text.split(separator: "\n").map { line in
    let object = try! JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
    return Record(fields: object)
  }
}

/// The summary `write` prints, captured through a pipe (a summary is far below its 64 KiB).
func capturedSummary(_ write: (Int32) -> Void) -> String {
  var fds: [Int32] = [-1, -1]
  precondition(pipe(&fds) == 0, "pipe failed")
  write(fds[1])
  close(fds[1])
  var text = ""
  var buffer = [UInt8](repeating: 0, count: 4096)
  while true {
    let n = buffer.withUnsafeMutableBytes { read(fds[0], $0.baseAddress, $0.count) }
    if n <= 0 { break }
    text += String(decoding: buffer[0..<n], as: UTF8.self)
  }
  close(fds[0])
  return text
}

/// A temporary path (nothing created).
func temporaryPath(_ name: String) -> String {
  NSTemporaryDirectory() + "sensorloop-\(name)-\(UUID().uuidString)"
}

/// Replaces what fd `target` refers to with what `source` refers to (dup2), closing `source`:
/// the owner of `target` keeps its number but now reads or writes somewhere else.
func replace(fd target: Int32, with source: Int32) {
  precondition(dup2(source, target) == target, "dup2 failed")
  close(source)
}
