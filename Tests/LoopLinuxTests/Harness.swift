// Test tasks for the epoll platform: each case is one behaviour (sleep, wait for a line, raise a
// trigger, stall the thread, raise a signal, read a pipe), and the world records what happened
// with real monotonic timestamps. A watchdog task turns a hang into a failed expectation.

import Foundation
import LoopCore
import LoopLinux

/// One thing a task saw.
struct Record: Equatable, CustomStringConvertible {
  var task: Int
  var event: String
  var at: Instant

  var description: String { "\(task):\(event)" }
}

/// What the test tasks share: the log, and when to stop the executor.
struct LinuxWorld {
  var log: [Record] = []
  /// The executor stops once the log holds this many records.
  var stopAfter = Int.max
  /// The fd `reader` tasks read.
  var readFD: Int32 = -1
  var bytesRead = 0
  /// The origin of `gridSleeper` deadlines: the time of the first such task's first poll.
  var base: Instant?

  mutating func record<S: Scheduler & ~Copyable>(_ cx: inout Context<S>, _ task: Int, _ event: String) {
    log.append(Record(task: task, event: event, at: cx.now))
    if log.count >= stopAfter { cx.stopExecutor() }
  }

  var events: [String] { log.map(\.description) }
}

/// The test tasks.
enum LinuxTask: TaskBody {
  typealias World = LinuxWorld

  /// Sleeps until `until`, records "fired", finishes.
  case sleeper(id: Int, until: Instant)
  /// Sleeps until `after` past its first poll, records "fired", finishes.
  case relativeSleeper(id: Int, after: Duration, deadline: Instant?)
  /// Sleeps until `world.base + offset` (the base set by the first grid sleeper polled, so
  /// every deadline is armed before any is due, however slow the host), records "fired".
  case gridSleeper(id: Int, offset: Duration)
  /// Waits for `line` once, records "woke", finishes.
  case waiter(id: Int, line: Interrupt)
  /// Raises its own trigger and waits for it, `remaining` times.
  case pinger(id: Int, trigger: InterruptTrigger, remaining: Int, waiting: Bool)
  /// Blocks the thread for `stall` in its one poll (a task that runs too long).
  case staller(stall: Duration)
  /// Sends `signal` to the calling thread and finishes.
  case signaller(signal: Int32)
  /// Reads `world.readFD` until it would block, each time `line` is raised; records EOF.
  case reader(id: Int, line: Interrupt)
  /// Stops the executor at `until`, recording "timeout": a hang becomes a failure.
  case watchdog(until: Instant)

  mutating func poll<S: Scheduler & ~Copyable>(_ cx: inout Context<S>, _ world: inout LinuxWorld)
    -> Poll<Void>
  {
    switch self {
    case .sleeper(let id, let until):
      guard case .ready = try! cx.sleep(until: until) else { return .pending }
      world.record(&cx, id, "fired")
      return .ready(())

    case .relativeSleeper(let id, let after, let armed):
      let deadline = armed ?? cx.now + after
      self = .relativeSleeper(id: id, after: after, deadline: deadline)
      guard case .ready = try! cx.sleep(until: deadline) else { return .pending }
      world.record(&cx, id, "fired")
      return .ready(())

    case .gridSleeper(let id, let offset):
      if world.base == nil { world.base = cx.now }
      guard case .ready = try! cx.sleep(until: world.base! + offset) else { return .pending }
      world.record(&cx, id, "fired")
      return .ready(())

    case .waiter(let id, let line):
      guard case .ready = cx.wait(for: line) else { return .pending }
      world.record(&cx, id, "woke")
      return .ready(())

    case .pinger(let id, let trigger, var remaining, var waiting):
      defer { self = .pinger(id: id, trigger: trigger, remaining: remaining, waiting: waiting) }
      while remaining > 0 {
        if !waiting {
          trigger.raise()
          waiting = true
        }
        guard cx.take(trigger.line) else { return .pending }
        waiting = false
        remaining -= 1
      }
      world.record(&cx, id, "pinged")
      return .ready(())

    case .staller(let stall):
      Thread.sleep(forTimeInterval: Double(stall.nanoseconds) / 1e9)
      return .ready(())

    case .signaller(let signal):
      Glibc.raise(signal)
      return .ready(())

    case .reader(let id, let line):
      var buffer = [UInt8](repeating: 0, count: 64)
      // Edge-triggered: each time the line is taken, read until EAGAIN, then wait again.
      while cx.take(line) {
        while true {
          do {
            let n = try buffer.withUnsafeMutableBytes { try read(borrowing: world.readFD, into: $0) }
            if n == 0 {
              world.record(&cx, id, "eof \(world.bytesRead)")
              return .ready(())
            }
            world.bytesRead += n
          } catch let error as Errno {
            if error != .wouldBlock { world.record(&cx, id, "error \(error.name)") }
            break
          } catch {
            world.record(&cx, id, "error \(error)")
            break
          }
        }
      }
      return .pending

    case .watchdog(let until):
      guard case .ready = try! cx.sleep(until: until) else { return .pending }
      world.record(&cx, -1, "timeout")
      cx.stopExecutor()
      return .ready(())
    }
  }
}

/// Reads through a `FileDescriptor` for `raw` without taking ownership of it.
func read(borrowing raw: Int32, into buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> Int {
  let fd = FileDescriptor(adopting: raw)
  let result: Result<Int, Errno>
  do { result = .success(try fd.read(into: buffer)) } catch { result = .failure(error) }
  _ = fd.release()
  return try result.get()
}

typealias LinuxExecutor = Executor<16, 16, LinuxTask, EpollPlatform>

/// An executor on a fresh epoll platform with a watchdog `limit` from now.
func makeExecutor(watchdog limit: Duration = .seconds(10)) throws -> LinuxExecutor {
  var executor = LinuxExecutor(platform: try EpollPlatform())
  try executor.spawn(.watchdog(until: monotonicNow() + limit))
  return executor
}
