// The program's small control tasks: the worker's completion dispatcher, the signal handler
// (stop, summary, reload) and the stop timer of `--duration`.

import LoopCore
import LoopLinux

/// Handles the world's worker's completion line: wakes the task whose request finished (the
/// executor has one handler per line; this task is it, and the owners wait on their wakers).
public struct WorkerDispatch: Sendable {
  /// A dispatcher.
  public init() {}

  @inline(never)
  mutating func poll<S: Scheduler & ~Copyable>(_ cx: inout Context<S>, _ world: inout FirmwareWorld)
    -> Poll<Void>
  {
    if world.worker != nil { world.worker!.dispatch(&cx) }
    return .pending
  }
}

/// Turns SIGINT/SIGTERM, SIGUSR1 and SIGHUP (raised as interrupt lines) into stop, summary and
/// reload requests. Takes every line on every poll, which keeps it their handler.
public struct SignalHandler: Sendable {
  /// A handler.
  public init() {}

  @inline(never)
  mutating func poll<S: Scheduler & ~Copyable>(_ cx: inout Context<S>, _ world: inout FirmwareWorld)
    -> Poll<Void>
  {
    if cx.take(FirmwareInterrupt.stop) {
      world.control.shutdown = true
      cx.stopExecutor()
    }
    if cx.take(FirmwareInterrupt.summary) {
      world.control.summary = true
      cx.stopExecutor()
    }
    if cx.take(FirmwareInterrupt.reload) {
      world.control.reload = true
      cx.stopExecutor()
    }
    return .pending
  }
}

/// Asks for a clean stop at a deadline (`--duration`).
public struct StopTimer: Sendable {
  let deadline: Instant

  /// A stop at `deadline`.
  public init(deadline: Instant) { self.deadline = deadline }

  @inline(never)
  mutating func poll<S: Scheduler & ~Copyable>(_ cx: inout Context<S>, _ world: inout FirmwareWorld)
    -> Poll<Void>
  {
    guard case .ready = (try? cx.sleep(until: deadline)) ?? .ready(()) else { return .pending }
    world.control.shutdown = true
    cx.stopExecutor()
    return .ready(())
  }
}
