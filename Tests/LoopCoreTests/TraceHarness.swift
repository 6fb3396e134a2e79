// The harness of the executor trace tests: an executor of `ScriptedTask`s on a virtual clock,
// the world they record into, and helpers that run the loop and hand back what was recorded.

import LoopCore
import LoopTesting
import Testing

/// `ms` milliseconds after the virtual clock's origin.
func instant(ms: Int64) -> Instant { .zero + .milliseconds(ms) }

/// Interrupt line `n`.
func line(_ n: Int) -> Interrupt { Interrupt(n) }

/// An executor with `slots` slots and `timers` timers, its trace world, and ways to drive them.
struct TraceHarness<let slots: Int, let timers: Int>: ~Copyable {
  var executor: Executor<slots, timers, ScriptedTask, VirtualPlatform>
  var world = TraceWorld()

  init(advancesToDeadline: Bool = false, recordsLimits: Bool = false) {
    var platform = VirtualPlatform(advancesToDeadline: advancesToDeadline)
    platform.recordsLimits = recordsLimits
    executor = Executor(platform: platform)
  }

  /// Spawns a task called `name` and publishes its waker under that name (for `Step.wake`).
  @discardableResult
  mutating func spawn(_ name: String, _ steps: [Step]) throws(CapacityError) -> Waker {
    let waker = try executor.spawn(ScriptedTask(name, steps))
    world.wakers[name] = waker
    return waker
  }

  /// Runs until nothing is ready and returns the events recorded since the last call.
  mutating func stall() -> [TraceEvent] {
    executor.runUntilStalled(&world)
    return world.drain()
  }

  /// Moves the clock on by `ms` milliseconds, then does what `stall` does.
  mutating func advance(ms: Int64) -> [TraceEvent] {
    executor.platform.advance(by: .milliseconds(ms))
    return stall()
  }

  /// Moves the clock on without running the executor.
  mutating func advanceClockOnly(by duration: Duration) { executor.platform.advance(by: duration) }

  /// `executor.run` with the world; the events are left in the trace.
  mutating func run() -> RunEnd { executor.run(&world) }

  /// The virtual time.
  var now: Instant { executor.platform.time }
}

/// Checks that `body` throws exactly `expected`.
func expectCapacityError(
  _ expected: CapacityError, sourceLocation: SourceLocation = #_sourceLocation,
  _ body: () throws(CapacityError) -> Void
) {
  do {
    try body()
    Issue.record("expected \(expected), nothing was thrown", sourceLocation: sourceLocation)
  } catch {
    #expect(error == expected, sourceLocation: sourceLocation)
  }
}
