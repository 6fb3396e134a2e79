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
