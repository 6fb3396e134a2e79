// Two tasks waiting on one side of a Signal (or Channel) replace each other's registration and
// wake each other on every poll, forever. A debug build traps after `bounceLimit` turns with a
// message saying so; a single waiter, or a hand-over from one waiter to another, never does.

import LoopCore
import LoopTesting
import Testing

/// What the waiter tasks share.
struct WaitWorld: ~Copyable {
  var notify = Signal<Void>()
  var polls = 0
}

/// Waits for `world.notify` once, then finishes.
struct Waiter: TaskBody {
  mutating func poll<S: Scheduler & ~Copyable>(_ cx: inout Context<S>, _ world: inout WaitWorld) -> Poll<Void>
  {
    world.polls += 1
    return world.notify.wait(&cx)
  }
}

typealias WaitExecutor = Executor<2, 1, Waiter, VirtualPlatform>

@Suite struct TwoWaitersTests {
  /// One waiter polled again and again never trips the check; a signal wakes it.
  @Test func oneWaiterIsFine() throws {
    var world = WaitWorld()
    var executor = WaitExecutor(platform: VirtualPlatform())
    let task = try executor.spawn(Waiter())
    for _ in 0..<3 * Int(WakerRegistration.bounceLimit) {
      executor.wake(task)
      executor.runUntilStalled(&world)
    }
    executor.wake(world.notify.signal(())!)
    executor.runUntilStalled(&world)
    #expect(executor.liveTasks == 0)
  }

  /// A second waiter taking over (the first woken once, then finished) is a hand-over, not a fight.
  @Test func handOverIsFine() throws {
    var world = WaitWorld()
    var executor = WaitExecutor(platform: VirtualPlatform())
    try executor.spawn(Waiter())
    executor.runUntilStalled(&world)
    world.notify.signal(()).map { executor.wake($0) }
    executor.runUntilStalled(&world)  // The first took it and finished.
    try executor.spawn(Waiter())
    executor.runUntilStalled(&world)
    #expect(executor.liveTasks == 1)
  }

  /// Two waiters on one signal: a debug build stops the endless ping-pong with a trap (checked
  /// in a child process); `polls` would otherwise grow without bound at 100% CPU.
  @Test func twoWaitersTrapInDebugBuilds() async throws {
    #if DEBUG
      await #expect(processExitsWith: .failure) {
        var world = WaitWorld()
        var executor = WaitExecutor(platform: VirtualPlatform())
        try executor.spawn(Waiter())
        try executor.spawn(Waiter())
        executor.runUntilStalled(&world)
      }
    #endif
  }
}

/// Two tasks waiting on one interrupt line (`cx.wait(for:)`, `cx.take`, an `InputLine` polled
/// by two tasks) replace each other as the line's one handler: the same debug-build trap.
@Suite struct TwoLineWaitersTests {
  /// One task waiting on a line, polled again and again, and a hand-over from a task that
  /// finished to another: no trap; each raise is taken once.
  @Test func oneWaiterAndAHandOverAreFine() throws {
    var harness = TraceHarness<2, 1>()
    let first = try harness.spawn("a", [.wait(line(5))])
    for _ in 0..<3 * Int(WakerRegistration.bounceLimit) {
      harness.executor.wake(first)
      _ = harness.stall()
    }
    harness.executor.raise(line(5))
    #expect(harness.stall().last == .at(0, "a", .done))
    try harness.spawn("b", [.wait(line(5)), .wait(line(5))])
    _ = harness.stall()
    harness.executor.raise(line(5))
    _ = harness.stall()
    harness.executor.raise(line(5))
    #expect(harness.stall().last == .at(0, "b", .done))
  }

  /// Two tasks that keep waiting on one line, with no raise: a debug build traps (checked in a
  /// child process) instead of the two waking each other forever at 100% CPU.
  @Test func twoWaitersOnOneLineTrapInDebugBuilds() async throws {
    #if DEBUG
      await #expect(processExitsWith: .failure) {
        var harness = TraceHarness<2, 1>()
        try harness.spawn("a", [.wait(line(5))])
        try harness.spawn("b", [.wait(line(5))])
        _ = harness.stall()
      }
    #endif
  }
}
