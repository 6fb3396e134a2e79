// Proof that the executor's steady state allocates nothing: spawn, poll, wake (live and stale),
// sleep, timers, interrupts (raised directly and through the platform), cancel and
// runUntilStalled, repeated 10,000 times on a concrete executor, with the malloc interposer
// counting this thread's allocations.
//
// This is a debug build: the executor's generic code runs unspecialised, and the Swift runtime
// allocates generic metadata (Kernel<8, 4, VirtualPlatform>, InlineArray<8, ScriptedTask?>, ...)
// the first time each type is used. The warm-up iterations pay for that once; the measured
// window must then be exactly zero, which also shows that unspecialised code does not box
// values on the heap. (The Embedded `-no-allocations` build proves the specialised code.)

import AllocCounter
import LoopCore
import LoopTesting
import Testing

@Suite struct ExecutorAllocationTests {
  typealias TestExecutor = Executor<8, 4, ScriptedTask, VirtualPlatform>

  /// The scripts, built once: a task value holds a reference to its script, never a copy.
  struct Scripts {
    let a: [Step] = [
      .sleep(.milliseconds(1)), .wait(Interrupt(1)), .yield(times: 2), .wake("b"), .raise(Interrupt(2)),
    ]
    let b: [Step] = [.idle, .wait(Interrupt(2))]
    let c: [Step] = [
      .wakeAt([.milliseconds(2), .milliseconds(1)]),
      .sleepEither(.milliseconds(3), .milliseconds(2)), .wait(Interrupt(3)),
    ]
    let d: [Step] = [.idle]
  }

  /// One round: four tasks spawned, driven to the end through every kind of wake; returns polls.
  static func round(
    _ executor: inout TestExecutor, _ world: inout TraceWorld, _ scripts: Scripts
  ) throws(CapacityError) -> Int {
    var polls = 0
    let a = try executor.spawn(ScriptedTask("a", scripts.a))
    world.wakers["a"] = a
    world.wakers["b"] = try executor.spawn(ScriptedTask("b", scripts.b))
    try executor.spawn(ScriptedTask("c", scripts.c))
    let d = try executor.spawn(ScriptedTask("d", scripts.d))
    polls += executor.runUntilStalled(&world)  // a and c arm timers, b and d idle
    executor.cancel(d)
    executor.wake(d)  // stale
    executor.platform.advance(by: .milliseconds(1))
    polls += executor.runUntilStalled(&world)  // a's sleep ends; it waits for line 1
    executor.platform.raise(Interrupt(1))  // through the platform
    polls += executor.runUntilStalled(&world)  // a yields, wakes b, raises 2; b takes it
    executor.raise(Interrupt(3))  // directly: latched until c waits for it
    for _ in 0..<10 where executor.liveTasks > 0 {
      executor.platform.advance(by: .milliseconds(1))
      polls += executor.runUntilStalled(&world)
    }
    precondition(executor.liveTasks == 0, "round: a task did not finish")
    world.trace.removeAll(keepingCapacity: true)
    return polls
  }

  @Test func tenThousandRoundsAllocateNothing() throws {
    #expect(sl_alloc_counter_active() == 1)
    var executor = TestExecutor(platform: VirtualPlatform())
    var world = TraceWorld()
    world.trace.reserveCapacity(256)
    let scripts = Scripts()
    // Warm-up: generic metadata, the wakers dictionary's storage, the trace's capacity.
    var warmPolls = 0
    for _ in 0..<10 { warmPolls += try Self.round(&executor, &world, scripts) }
    let before = sl_alloc_count_thread()
    var polls = 0
    for _ in 0..<10_000 { polls += try Self.round(&executor, &world, scripts) }
    let allocations = sl_alloc_count_thread() - before
    #expect(allocations == 0)
    #expect(polls == warmPolls * 1_000)  // every round did the same work
    #expect(polls > 100_000)
    // One per round (d's waker after cancel), and from the second round on three more: a, b
    // and c finish as the handlers of lines 1, 2 and 3 (a task that takes a line stays its
    // handler), and the next round's takers replace them, waking the finished tasks' wakers.
    #expect(executor.counters.staleWakes == 10_010 + 3 * 10_009)
  }
}
