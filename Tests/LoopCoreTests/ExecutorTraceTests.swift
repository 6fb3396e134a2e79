// Exact traces of the executor core over a virtual clock: spawning and slots, every
// full-capacity path, stale wakers, fairness, timer order, interrupts, `run`'s two endings and
// `cancel`. Each expected event carries a comment saying why it comes where it does.

import LoopCore
import LoopTesting
import Testing

@Suite struct SpawnAndCapacityTests {
  @Test func spawnedTasksRunInSpawnOrder() throws {
    var h = TraceHarness<4, 4>()
    try h.spawn("a", [])
    try h.spawn("b", [.idle])
    try h.spawn("c", [])
    #expect(
      h.stall() == [
        .at(0, "a", .poll), .at(0, "a", .done),  // spawned first: first in the ready queue
        .at(0, "b", .poll),  // idles: pending with nothing registered
        .at(0, "c", .poll), .at(0, "c", .done),  // then the third spawn
      ])
    #expect(h.executor.liveTasks == 1)
    #expect(h.executor.waker(slot: 0) == nil)  // a's slot is free again
    #expect(h.executor.waker(slot: 1) == Waker(slot: 1, generation: 0))  // b still there
  }

  @Test func spawnIntoAFullExecutorThrowsAndDisturbsNothing() throws {
    var h = TraceHarness<2, 2>()
    let a = try h.spawn("a", [.sleep(.milliseconds(10))])
    let b = try h.spawn("b", [.idle])
    #expect(h.stall() == [.at(0, "a", .poll), .at(0, "b", .poll)])
    expectCapacityError(.taskSlots) { () throws(CapacityError) in
      try h.executor.spawn(ScriptedTask("c", []))
    }
    // The refused spawn changed nothing: both tasks, a's timer and their counters are intact.
    #expect(h.executor.liveTasks == 2)
    #expect(h.executor.armedTimers == 1)
    #expect(h.executor.nextDeadline == instant(ms: 10))
    #expect(h.executor.stats(a)?.polls == 1)
    #expect(h.executor.stats(b)?.polls == 1)
    #expect(h.stall() == [])  // and nothing was queued
    #expect(
      h.advance(ms: 10) == [
        .at(10, "a", .poll), .at(10, "a", .slept), .at(10, "a", .done),  // a's timer fires
      ])
    // a's slot (0) is free again: the next spawn takes it, with the next generation.
    let c = try h.spawn("c", [])
    #expect(c == Waker(slot: 0, generation: 1))
    #expect(h.stall() == [.at(10, "c", .poll), .at(10, "c", .done)])
    #expect(h.executor.stats(b)?.polls == 1)  // b was never polled again
  }

  @Test func aFullTimerQueueThrowsFromSleepAndWakeAt() throws {
    var h = TraceHarness<4, 2>()
    try h.spawn("a", [.sleep(.milliseconds(10))])
    try h.spawn("b", [.sleep(.milliseconds(20))])
    let c = try h.spawn("c", [.sleep(.milliseconds(5))])
    let d = try h.spawn("d", [.wakeAt([.milliseconds(1)])])
    #expect(
      h.stall() == [
        .at(0, "a", .poll),  // arms 10 ms: one timer of two
        .at(0, "b", .poll),  // arms 20 ms: the queue is full
        .at(0, "c", .poll), .at(0, "c", .timerQueueFull),  // cx.sleep throws .timerQueue
        .at(0, "d", .poll), .at(0, "d", .timerQueueFull),  // cx.wake(at:) throws .timerQueue
      ])
    #expect(h.executor.armedTimers == 2)
    #expect(h.executor.nextDeadline == instant(ms: 10))  // c's 5 ms and d's 1 ms were refused
    #expect(h.advance(ms: 10) == [.at(10, "a", .poll), .at(10, "a", .slept), .at(10, "a", .done)])
    // c holds no timer, so only a wake brings it back; its 5 ms deadline has passed by now.
    h.executor.wake(c)
    #expect(h.stall() == [.at(10, "c", .poll), .at(10, "c", .slept), .at(10, "c", .done)])
    h.executor.wake(d)
    #expect(h.stall() == [.at(10, "d", .poll), .at(10, "d", .done)])  // any wake ends wakeAt
    #expect(h.advance(ms: 10) == [.at(20, "b", .poll), .at(20, "b", .slept), .at(20, "b", .done)])
    #expect(h.executor.counters.timersFired == 2)
    #expect(h.executor.liveTasks == 0)
  }

  @Test func aFinishedTaskFreesItsSlotWhichIsReusedWithANewGeneration() throws {
    var h = TraceHarness<2, 2>()
    let a = try h.spawn("a", [])
    #expect(a == Waker(slot: 0, generation: 0))
    #expect(h.stall() == [.at(0, "a", .poll), .at(0, "a", .done)])
    #expect(h.executor.waker(slot: 0) == nil)
    #expect(h.executor.task(a) == nil)
    #expect(h.executor.stats(a) == nil)
    let b = try h.spawn("b", [.idle])
    let c = try h.spawn("c", [.idle])
    #expect(b == Waker(slot: 0, generation: 1))  // the lowest free slot, one generation on
    #expect(c == Waker(slot: 1, generation: 0))  // a slot never used before
    #expect(h.executor.task(b)?.name == "b")
    #expect(h.executor.task(a) == nil)  // a's waker does not name b
    #expect(h.executor.cancel(b) == true)
    #expect(try h.spawn("d", []) == Waker(slot: 0, generation: 2))  // cancel also frees
  }
}

@Suite struct StaleWakerTests {
  @Test func aWakeAimedAtAReusedSlotIsIgnoredAndCounted() throws {
    var h = TraceHarness<2, 2>()
    let a = try h.spawn("a", [])
    #expect(h.stall() == [.at(0, "a", .poll), .at(0, "a", .done)])
    let b = try h.spawn("b", [.idle, .idle])
    #expect(b.slot == a.slot)  // b lives in a's old slot
    #expect(h.stall() == [.at(0, "b", .poll)])
    h.executor.wake(a)  // from outside: stale
    #expect(h.executor.counters.staleWakes == 1)
    #expect(h.stall() == [])  // b was not woken
    // The same through a context: c wakes "a", whose published waker is a's, stale.
    try h.spawn("c", [.wake("a")])
    #expect(h.stall() == [.at(0, "c", .poll), .at(0, "c", .woke("a")), .at(0, "c", .done)])
    #expect(h.executor.counters.staleWakes == 2)
    // A waker for a slot that does not exist is stale too.
    h.executor.wake(Waker(slot: 99, generation: 0))
    #expect(h.executor.counters.staleWakes == 3)
    #expect(h.executor.cancel(a) == false)  // cancelling a stale waker does nothing
    #expect(h.executor.liveTasks == 1)
    h.executor.wake(b)  // b's own waker still works
    #expect(h.stall() == [.at(0, "b", .poll)])
    #expect(h.executor.stats(b)?.wakes == 1)
  }

  @Test func aStaleInterruptHandlerIsCountedAndTheLineStaysLatched() throws {
    var h = TraceHarness<2, 2>()
    let a = try h.spawn("a", [.wait(line(3))])
    #expect(h.stall() == [.at(0, "a", .poll)])  // a is line 3's handler
    #expect(h.executor.cancel(a) == true)
    h.executor.raise(line(3))  // wakes the handler, which is gone
    #expect(h.executor.counters.staleWakes == 1)
    #expect(h.stall() == [])
    try h.spawn("b", [.wait(line(3))])
    // The raise stayed pending: b takes it at its first poll.
    #expect(h.stall() == [.at(0, "b", .poll), .at(0, "b", .took(3)), .at(0, "b", .done)])
  }
}

@Suite struct FairnessTests {
  @Test func aSelfWakingTaskTakesTurnsWithTheOthers() throws {
    var h = TraceHarness<4, 4>()
    let s = try h.spawn("s", [.yield(times: 4)])
    try h.spawn("a", [.yield(times: 1)])
    try h.spawn("b", [])
    let polls = h.executor.runUntilStalled(&h.world)
    #expect(
      h.world.drain() == [
        .at(0, "s", .poll),  // turn 1: s wakes itself and goes to the back of the queue
        .at(0, "a", .poll),  // a too
        .at(0, "b", .poll), .at(0, "b", .done),  // b is not starved by s
        .at(0, "s", .poll),  // turn 2: s, a, in the order they were woken
        .at(0, "a", .poll), .at(0, "a", .done),
        .at(0, "s", .poll),  // turns 3 and 4: only s is ready
        .at(0, "s", .poll),
        .at(0, "s", .poll), .at(0, "s", .done),  // turn 5: s's fifth poll ends its script
      ])
    #expect(polls == 8)
    #expect(h.executor.stats(s) == nil)
  }

  @Test func aTaskWokenDuringATurnWaitsForTheNextTurn() throws {
    var h = TraceHarness<4, 4>()
    try h.spawn("c", [.idle])
    #expect(h.stall() == [.at(0, "c", .poll)])
    try h.spawn("a", [.wake("c")])
    try h.spawn("b", [])
    #expect(
      h.stall() == [
        .at(0, "a", .poll), .at(0, "a", .woke("c")), .at(0, "a", .done),  // c is queued now
        .at(0, "b", .poll), .at(0, "b", .done),  // b was queued before c
        .at(0, "c", .poll), .at(0, "c", .done),
      ])
  }

  @Test func wakingAQueuedOrRunningTaskAgainIsCoalesced() throws {
    var h = TraceHarness<4, 4>()
    try h.spawn("a", [.wake("a"), .wake("a"), .idle])  // wakes itself twice in one poll
    #expect(
      h.stall() == [
        .at(0, "a", .poll), .at(0, "a", .woke("a")), .at(0, "a", .woke("a")),
        .at(0, "a", .poll), .at(0, "a", .done),  // polled once more, not twice
      ])
    let b = try h.spawn("b", [.idle, .idle])
    h.executor.wake(b)  // b is queued (just spawned): nothing to add
    h.executor.wake(b)
    #expect(h.stall() == [.at(0, "b", .poll)])
    #expect(h.executor.stats(b)?.wakes == 0)
  }

  /// The spinner stays ready for 7 polls; `pollsPerPlatformCheck` is 4.
  func busyTrace(pollsPerPlatformCheck: Int) throws -> [TraceEvent] {
    var h = TraceHarness<4, 4>()
    h.executor.pollsPerPlatformCheck = pollsPerPlatformCheck
    try h.spawn("t", [.sleep(.milliseconds(5))])
    try h.spawn("w", [.wait(line(1))])
    // 2 polls, then the platform check that finds the loop stalled: 0 polls since a check.
    #expect(h.stall() == [.at(0, "t", .poll), .at(0, "w", .poll)])
    // t's deadline passes and line 1 fires while nobody looks; then a busy task arrives.
    h.advanceClockOnly(by: .milliseconds(5))
    h.executor.platform.raise(line(1))
    try h.spawn("s", [.yield(times: 6)])
    #expect(h.run() == .allTasksFinished)  // `run` polls first and checks the platform after
    return h.world.drain()
  }

  @Test func interruptsAndTimersArriveWhileATaskStaysBusy() throws {
    #expect(
      try busyTrace(pollsPerPlatformCheck: 4) == [
        .at(5, "s", .poll), .at(5, "s", .poll), .at(5, "s", .poll),  // polls 1-3 since the check
        .at(5, "s", .poll),  // poll 4: after this turn the loop checks the platform
        .at(5, "s", .poll),  // line 1 woke w, the due timer woke t: both queued behind s
        .at(5, "w", .poll), .at(5, "w", .took(1)), .at(5, "w", .done),
        .at(5, "t", .poll), .at(5, "t", .slept), .at(5, "t", .done),
        .at(5, "s", .poll), .at(5, "s", .poll), .at(5, "s", .done),  // s's seventh poll
      ])
  }

  @Test func withoutPlatformChecksTheBusyTaskWouldDelayThem() throws {
    #expect(
      try busyTrace(pollsPerPlatformCheck: 1_000) == [
        .at(5, "s", .poll), .at(5, "s", .poll), .at(5, "s", .poll), .at(5, "s", .poll),
        .at(5, "s", .poll), .at(5, "s", .poll), .at(5, "s", .poll), .at(5, "s", .done),
        // Only once s is done does the loop wait, and find line 1 and the timer.
        .at(5, "w", .poll), .at(5, "w", .took(1)), .at(5, "w", .done),
        .at(5, "t", .poll), .at(5, "t", .slept), .at(5, "t", .done),
      ])
  }
}

@Suite struct TimerOrderTests {
  @Test func earliestDeadlineFirst() throws {
    var h = TraceHarness<4, 4>()
    try h.spawn("a", [.sleep(.milliseconds(30))])
    try h.spawn("b", [.sleep(.milliseconds(10))])
    try h.spawn("c", [.sleep(.milliseconds(20))])
    try h.spawn("d", [.sleep(.milliseconds(10))])
    #expect(h.stall().count == 4)  // four polls, four timers armed
    #expect(h.executor.armedTimers == 4)
    #expect(
      h.advance(ms: 10) == [
        .at(10, "b", .poll), .at(10, "b", .slept), .at(10, "b", .done),  // 10 ms, armed first
        .at(10, "d", .poll), .at(10, "d", .slept), .at(10, "d", .done),  // 10 ms, armed second
      ])
    #expect(h.advance(ms: 10) == [.at(20, "c", .poll), .at(20, "c", .slept), .at(20, "c", .done)])
    #expect(h.advance(ms: 10) == [.at(30, "a", .poll), .at(30, "a", .slept), .at(30, "a", .done)])
  }

  @Test func equalDeadlinesFireInArmingOrderNotSlotOrder() throws {
    var h = TraceHarness<4, 4>()
    let x = try h.spawn("x", [.idle, .sleep(.milliseconds(10))])
    try h.spawn("y", [.sleep(.milliseconds(10))])
    #expect(h.stall() == [.at(0, "x", .poll), .at(0, "y", .poll)])  // y arms 10 ms first
    h.executor.wake(x)
    #expect(h.stall() == [.at(0, "x", .poll)])  // x arms 10 ms second
    #expect(
      h.advance(ms: 10) == [
        .at(10, "y", .poll), .at(10, "y", .slept), .at(10, "y", .done),  // armed first
        .at(10, "x", .poll), .at(10, "x", .slept), .at(10, "x", .done),  // lower slot, but second
      ])
  }

  @Test func aTimerNeverFiresEarly() throws {
    var h = TraceHarness<2, 2>()
    try h.spawn("a", [.sleep(.milliseconds(10))])
    #expect(h.stall() == [.at(0, "a", .poll)])
    h.advanceClockOnly(by: .milliseconds(10) - .nanoseconds(1))
    #expect(h.stall() == [])  // 1 ns before the deadline: nothing
    #expect(h.executor.counters.timersFired == 0)
    h.advanceClockOnly(by: .nanoseconds(1))
    #expect(h.stall() == [.at(10, "a", .poll), .at(10, "a", .slept), .at(10, "a", .done)])
    #expect(h.executor.counters.timersFired == 1)
  }

  @Test func aDeadlineNotRequestedAgainIsDropped() throws {
    var h = TraceHarness<2, 2>()
    let a = try h.spawn("a", [.wakeAt([.milliseconds(10)]), .idle])
    #expect(h.stall() == [.at(0, "a", .poll)])
    #expect(h.executor.nextDeadline == instant(ms: 10))
    h.advanceClockOnly(by: .milliseconds(5))
    h.executor.wake(a)
    // Woken early, a moves on to `idle` and asks for no deadline: its 10 ms timer is dropped.
    #expect(h.stall() == [.at(5, "a", .poll)])
    #expect(h.executor.armedTimers == 0)
    #expect(h.executor.nextDeadline == nil)
    #expect(h.advance(ms: 10) == [])  // no spurious wake at 10 ms
    #expect(h.executor.counters.timersFired == 0)
    h.executor.wake(a)
    #expect(h.stall() == [.at(15, "a", .poll), .at(15, "a", .done)])
  }

  @Test func aDeadlineRequestedAgainStaysArmed() throws {
    var h = TraceHarness<2, 2>()
    let a = try h.spawn("a", [.sleep(.milliseconds(10))])
    #expect(h.stall() == [.at(0, "a", .poll)])
    h.advanceClockOnly(by: .milliseconds(5))
    h.executor.wake(a)
    #expect(h.stall() == [.at(5, "a", .poll)])  // early: sleep asks for 10 ms again
    #expect(h.executor.nextDeadline == instant(ms: 10))
    #expect(h.advance(ms: 5) == [.at(10, "a", .poll), .at(10, "a", .slept), .at(10, "a", .done)])
  }

  @Test func theEarliestRequestOfAPollWins() throws {
    var h = TraceHarness<2, 2>()
    try h.spawn("a", [.wakeAt([.milliseconds(20), .milliseconds(10), .milliseconds(15)])])
    #expect(h.stall() == [.at(0, "a", .poll)])
    #expect(h.executor.armedTimers == 1)  // one deadline per task
    #expect(h.executor.nextDeadline == instant(ms: 10))
    #expect(h.advance(ms: 10) == [.at(10, "a", .poll), .at(10, "a", .done)])
    #expect(h.advance(ms: 10) == [])  // the 15 and 20 ms requests left nothing behind
    #expect(h.executor.counters.timersFired == 1)
  }

  @Test func aLaterRequestInANewPollReplacesTheOldDeadline() throws {
    var h = TraceHarness<2, 2>()
    let a = try h.spawn("a", [.wakeAt([.milliseconds(10)]), .wakeAt([.milliseconds(20)])])
    #expect(h.stall() == [.at(0, "a", .poll)])
    h.advanceClockOnly(by: .milliseconds(5))
    h.executor.wake(a)
    #expect(h.stall() == [.at(5, "a", .poll)])  // asks for 5 + 20 ms only
    #expect(h.executor.nextDeadline == instant(ms: 25))
    #expect(h.advance(ms: 5) == [])  // 10 ms: the old deadline is gone
    #expect(h.advance(ms: 15) == [.at(25, "a", .poll), .at(25, "a", .done)])
  }

  @Test func aDeadlineRequestedAgainKeepsItsPlaceAmongEqualOnes() throws {
    var h = TraceHarness<2, 2>()
    let a = try h.spawn("a", [.sleep(.milliseconds(10))])
    try h.spawn("b", [.sleep(.milliseconds(10))])
    #expect(h.stall() == [.at(0, "a", .poll), .at(0, "b", .poll)])  // a armed first
    h.advanceClockOnly(by: .milliseconds(5))
    h.executor.wake(a)
    #expect(h.stall() == [.at(5, "a", .poll)])  // a asks for the same 10 ms again
    #expect(
      h.advance(ms: 5) == [
        .at(10, "a", .poll), .at(10, "a", .slept), .at(10, "a", .done),  // still first
        .at(10, "b", .poll), .at(10, "b", .slept), .at(10, "b", .done),
      ])
  }

  @Test func theOrderOfRequestsWithinAPollDoesNotMoveAnUnchangedDeadline() throws {
    var h = TraceHarness<2, 2>()
    let a = try h.spawn("a", [.wakeAt([.milliseconds(10)]), .wakeAt([.milliseconds(15), .milliseconds(5)])])
    try h.spawn("b", [.sleep(.milliseconds(10))])
    #expect(h.stall() == [.at(0, "a", .poll), .at(0, "b", .poll)])  // a armed 10 ms first
    h.advanceClockOnly(by: .milliseconds(5))
    h.executor.wake(a)
    // a's next step asks for 20 ms, then 10 ms: it ends the poll holding 10 ms, as before.
    #expect(h.stall() == [.at(5, "a", .poll)])
    #expect(
      h.advance(ms: 5) == [
        .at(10, "a", .poll), .at(10, "a", .done),  // still first among the 10 ms deadlines
        .at(10, "b", .poll), .at(10, "b", .slept), .at(10, "b", .done),
      ])
  }

  @Test func twoSleepsInOnePollKeepTheEarlierInItsPlace() throws {
    var h = TraceHarness<2, 2>()
    let a = try h.spawn("a", [.sleepEither(.milliseconds(20), .milliseconds(10))])
    try h.spawn("b", [.sleep(.milliseconds(10))])
    #expect(h.stall() == [.at(0, "a", .poll), .at(0, "b", .poll)])  // a holds 10 ms, armed first
    #expect(h.executor.armedTimers == 2)  // one per task, not one per request
    h.advanceClockOnly(by: .milliseconds(5))
    h.executor.wake(a)
    #expect(h.stall() == [.at(5, "a", .poll)])  // asks for 20 then 10 ms again, as select would
    #expect(
      h.advance(ms: 5) == [
        .at(10, "a", .poll), .at(10, "a", .slept), .at(10, "a", .done),  // still ahead of b
        .at(10, "b", .poll), .at(10, "b", .slept), .at(10, "b", .done),
      ])
  }

  @Test func aDeadlineAlreadyPastFiresAtTheNextCheck() throws {
    var h = TraceHarness<2, 2>()
    try h.spawn("a", [.wakeAt([.zero]), .wakeAt([.milliseconds(-3)])])
    #expect(
      h.stall() == [
        .at(0, "a", .poll),  // asks for now: armed, and due at the stall loop's next check
        .at(0, "a", .poll),  // asks for 3 ms ago: fires the same way
        .at(0, "a", .poll), .at(0, "a", .done),
      ])
    #expect(h.executor.counters.timersFired == 2)
  }
}

@Suite struct InterruptTests {
  @Test func aLineRaisedBeforeTheTaskWaitsIsTakenAtOnce() throws {
    var h = TraceHarness<2, 2>()
    h.executor.raise(line(2))  // nobody waits: latched pending
    try h.spawn("a", [.wait(line(2)), .wait(line(2))])
    #expect(h.stall() == [.at(0, "a", .poll), .at(0, "a", .took(2))])  // then waits again
    h.executor.raise(line(2))  // wakes a
    h.executor.raise(line(2))  // already pending: one latch, not a count
    #expect(h.stall() == [.at(0, "a", .poll), .at(0, "a", .took(2)), .at(0, "a", .done)])
    try h.spawn("b", [.wait(line(2))])
    #expect(h.stall() == [.at(0, "b", .poll)])  // nothing left pending
    #expect(h.executor.counters.interruptsRaised == 3)
  }

  @Test func oneHandlerPerLineAndTheReplacedOneIsWoken() throws {
    var h = TraceHarness<2, 2>()
    try h.spawn("a", [.listen(line(4))])
    try h.spawn("b", [.wait(line(4))])
    #expect(
      h.stall() == [
        .at(0, "a", .poll),  // a becomes line 4's handler
        .at(0, "b", .poll),  // b replaces it, which wakes a
        .at(0, "a", .poll), .at(0, "a", .done),  // a's listen step ends on any wake
      ])
    h.executor.raise(line(4))
    #expect(h.stall() == [.at(0, "b", .poll), .at(0, "b", .took(4)), .at(0, "b", .done)])
    #expect(h.executor.counters.staleWakes == 0)
  }

  @Test func aLineRaisedThroughThePlatformArrivesAtTheNextWait() throws {
    var h = TraceHarness<2, 2>()
    try h.spawn("a", [.wait(line(5))])
    #expect(h.stall() == [.at(0, "a", .poll)])
    let waits = h.executor.counters.platformWaits
    h.executor.platform.raise(line(5))
    #expect(h.executor.counters.interruptsRaised == 0)  // still in the platform
    #expect(h.stall() == [.at(0, "a", .poll), .at(0, "a", .took(5)), .at(0, "a", .done)])
    #expect(h.executor.counters.interruptsRaised == 1)
    // The stall loop waited once to collect line 5, once more to find nothing left.
    #expect(h.executor.counters.platformWaits == waits + 2)
  }

  @Test func aTaskRaisesALineForAnother() throws {
    var h = TraceHarness<2, 2>()
    try h.spawn("w", [.wait(line(6))])
    try h.spawn("r", [.raise(line(6)), .raise(line(7))])
    #expect(
      h.stall() == [
        .at(0, "w", .poll),  // waits for line 6
        .at(0, "r", .poll), .at(0, "r", .raised(6)), .at(0, "r", .raised(7)), .at(0, "r", .done),
        .at(0, "w", .poll), .at(0, "w", .took(6)), .at(0, "w", .done),  // woken by r's raise
      ])
    try h.spawn("v", [.wait(line(7))])  // line 7 had no handler: still latched
    #expect(h.stall() == [.at(0, "v", .poll), .at(0, "v", .took(7)), .at(0, "v", .done)])
  }

  /// A task that takes a pending line stays its handler: every later raise wakes it. (Taking
  /// used to consume the latch without registering, so a signal handler task that took its
  /// line once was never woken by it again: only the first SIGUSR1 printed a summary.)
  @Test func takingAPendingLineLeavesTheTakerItsHandler() throws {
    var h = TraceHarness<2, 2>()
    h.executor.raise(line(3))  // nobody waits: latched
    try h.spawn("a", [.listen(line(3)), .listen(line(3)), .listen(line(3))])
    #expect(h.stall() == [.at(0, "a", .poll), .at(0, "a", .took(3))])  // consumed, and registered
    h.executor.raise(line(3))  // the second raise wakes a
    #expect(
      h.stall() == [
        .at(0, "a", .poll),  // the first listen ends on this wake
        .at(0, "a", .took(3)),  // the second takes the latch (and registers again)
      ])
    h.executor.raise(line(3))  // and so does the third
    #expect(h.stall() == [.at(0, "a", .poll), .at(0, "a", .took(3))])
    h.executor.raise(line(9))  // another line: nothing happens
    #expect(h.stall() == [])
    #expect(h.executor.counters.interruptsRaised == 4)
    #expect(h.executor.counters.staleWakes == 0)
  }

  /// A handler that took its line and then stopped caring is woken once by the next raise (a
  /// spurious wake it ignores); the latch is left for whoever takes the line next.
  @Test func aHandlerThatStoppedCaringGetsOneSpuriousWake() throws {
    var h = TraceHarness<2, 2>()
    h.executor.raise(line(5))
    try h.spawn("a", [.listen(line(5)), .idle, .idle])
    #expect(h.stall() == [.at(0, "a", .poll), .at(0, "a", .took(5))])
    h.executor.raise(line(5))
    #expect(h.stall() == [.at(0, "a", .poll)])  // woken; ends listen, idles without taking
    h.executor.raise(line(5))  // a is no longer registered: nobody is woken
    #expect(h.stall() == [])
    try h.spawn("b", [.wait(line(5))])
    #expect(h.stall() == [.at(0, "b", .poll), .at(0, "b", .took(5)), .at(0, "b", .done)])
  }

  @Test func aHandlerRaisingItsOwnLineIsPolledAgain() throws {
    var h = TraceHarness<2, 2>()
    let a = try h.spawn("a", [.listen(line(8)), .raise(line(8)), .idle, .wait(line(8))])
    #expect(h.stall() == [.at(0, "a", .poll)])  // a is line 8's handler
    h.executor.raise(line(9))  // another line: nothing happens
    #expect(h.stall() == [])
    h.executor.wake(a)
    #expect(
      h.stall() == [
        .at(0, "a", .poll),  // listen ends (a plain wake, no interrupt)
        .at(0, "a", .raised(8)),  // a is still the handler: its own raise wakes it mid-poll
        .at(0, "a", .poll),  // so after idling it is polled again at once
        .at(0, "a", .took(8)), .at(0, "a", .done),  // and takes the latched line
      ])
    #expect(h.executor.counters.interruptsRaised == 2)
  }
}

@Suite struct RunAndCancelTests {
  @Test func runReturnsWhenAllTasksFinished() throws {
    var h = TraceHarness<4, 4>(advancesToDeadline: true, recordsLimits: true)
    #expect(h.run() == .allTasksFinished)  // no task at all
    #expect(h.executor.platform.waits == 0)
    try h.spawn("a", [.sleep(.milliseconds(10)), .sleep(.milliseconds(10))])
    try h.spawn("b", [.sleep(.milliseconds(15))])
    #expect(h.run() == .allTasksFinished)
    #expect(
      h.world.drain() == [
        .at(0, "a", .poll), .at(0, "b", .poll),  // arm 10 and 15 ms
        .at(10, "a", .poll), .at(10, "a", .slept),  // the clock jumped to 10: a sleeps again
        .at(15, "b", .poll), .at(15, "b", .slept), .at(15, "b", .done),
        .at(20, "a", .poll), .at(20, "a", .slept), .at(20, "a", .done),
      ])
    #expect(
      h.executor.platform.limits == [
        .deadline(instant(ms: 10)), .deadline(instant(ms: 15)), .deadline(instant(ms: 20)),
      ])
    #expect(h.now == instant(ms: 20))
  }

  @Test func runReturnsStoppedAfterTheTurnInWhichATaskAsked() throws {
    var h = TraceHarness<4, 4>(advancesToDeadline: true)
    let a = try h.spawn("a", [.sleep(.milliseconds(5)), .stop, .idle])
    try h.spawn("b", [.yield(times: 5)])
    #expect(h.run() == .stopped)
    #expect(
      h.world.drain() == [
        .at(0, "a", .poll), .at(0, "b", .poll),  // a sleeps, b yields
        .at(0, "b", .poll), .at(0, "b", .poll), .at(0, "b", .poll), .at(0, "b", .poll),
        .at(0, "b", .poll), .at(0, "b", .done),
        .at(5, "a", .poll), .at(5, "a", .slept), .at(5, "a", .stop),  // the turn ends, run returns
      ])
    #expect(h.executor.liveTasks == 1)
    h.executor.wake(a)
    #expect(h.run() == .allTasksFinished)  // a fresh run is not stopped by the old request
    #expect(h.world.drain() == [.at(5, "a", .poll), .at(5, "a", .done)])
  }

  @Test func aStopEndsTheTurnNotTheOthersPolls() throws {
    var h = TraceHarness<4, 4>()
    try h.spawn("a", [.stop])
    try h.spawn("b", [.yield(times: 1)])
    try h.spawn("c", [])
    #expect(h.run() == .stopped)
    #expect(
      h.world.drain() == [
        .at(0, "a", .poll), .at(0, "a", .stop), .at(0, "a", .done),
        .at(0, "b", .poll),  // the rest of the turn still runs: b yields...
        .at(0, "c", .poll), .at(0, "c", .done),  // ...and c finishes
      ])
    #expect(h.stall() == [.at(0, "b", .poll), .at(0, "b", .done)])  // b was left queued
  }

  @Test func stopBeforeRunMakesItReturnAtOnce() throws {
    var h = TraceHarness<2, 2>()
    try h.spawn("a", [])
    h.executor.stop()
    #expect(h.run() == .stopped)
    #expect(h.world.drain() == [])
    #expect(h.run() == .allTasksFinished)  // the request was used up
    #expect(h.world.drain() == [.at(0, "a", .poll), .at(0, "a", .done)])
  }

  @Test func cancelRemovesQueuedIdleAndSleepingTasks() throws {
    var h = TraceHarness<4, 4>()
    try h.spawn("a", [])
    let b = try h.spawn("b", [])
    try h.spawn("c", [])
    #expect(h.executor.cancel(b) == true)  // queued, never polled
    #expect(h.stall() == [.at(0, "a", .poll), .at(0, "a", .done), .at(0, "c", .poll), .at(0, "c", .done)])
    let idle = try h.spawn("i", [.idle])
    let s1 = try h.spawn("s1", [.sleep(.milliseconds(10))])
    try h.spawn("s2", [.sleep(.milliseconds(20))])
    #expect(h.stall() == [.at(0, "i", .poll), .at(0, "s1", .poll), .at(0, "s2", .poll)])
    #expect(h.executor.cancel(idle) == true)
    #expect(h.executor.cancel(s1) == true)  // its timer goes with it
    #expect(h.executor.armedTimers == 1)
    #expect(h.executor.nextDeadline == instant(ms: 20))
    #expect(h.executor.liveTasks == 1)
    #expect(h.executor.cancel(s1) == false)  // twice: stale
    #expect(h.executor.cancel(b) == false)
    #expect(h.advance(ms: 10) == [])  // s1 is not polled at 10 ms
    #expect(h.advance(ms: 10) == [.at(20, "s2", .poll), .at(20, "s2", .slept), .at(20, "s2", .done)])
    #expect(h.executor.counters.staleWakes == 0)  // cancel does not count as a wake
  }

  @Test func cancelOfAStaleWakerLeavesTheSlotsNewTaskAlone() throws {
    var h = TraceHarness<2, 2>()
    let a = try h.spawn("a", [])
    #expect(h.stall().count == 2)
    let b = try h.spawn("b", [.idle])
    #expect(h.executor.cancel(a) == false)
    #expect(h.executor.task(b)?.name == "b")
    #expect(h.stall() == [.at(0, "b", .poll)])
  }
}

@Suite struct VirtualTimeTests {
  @Test func anHourOfVirtualTimeRunsAtOnce() throws {
    var h = TraceHarness<4, 4>(advancesToDeadline: true, recordsLimits: true)
    h.world.records = false
    try h.spawn("second", Array(repeating: .sleep(.seconds(1)), count: 3_600))
    try h.spawn("minute", Array(repeating: .sleep(.seconds(60)), count: 60))
    #expect(h.run() == .allTasksFinished)
    #expect(h.now == .zero + .seconds(3_600))
    #expect(h.executor.counters.timersFired == 3_600 + 60)
    // One blocking wait per distinct deadline: every second (the minutes coincide with one);
    // the other waits are the busy loop's non-blocking checks.
    let blocking = h.executor.platform.limits.filter { $0 != .poll }
    #expect(blocking.count == 3_600)
    #expect(blocking.last == .deadline(.zero + .seconds(3_600)))
  }

  @Test func scheduledInterruptsStopTheJumpingClock() throws {
    var h = TraceHarness<4, 4>(advancesToDeadline: true)
    h.executor.platform.raise(line(7), at: instant(ms: 1_500))
    h.executor.platform.raise(line(7), at: instant(ms: 4_000))
    try h.spawn("beat", [.sleep(.seconds(1)), .sleep(.seconds(1))])
    try h.spawn("button", [.wait(line(7)), .wait(line(7))])
    #expect(h.run() == .allTasksFinished)
    #expect(
      h.world.drain() == [
        .at(0, "beat", .poll), .at(0, "button", .poll),
        .at(1_000, "beat", .poll), .at(1_000, "beat", .slept),  // arms 2 s
        .at(1_500, "button", .poll), .at(1_500, "button", .took(7)),  // before 2 s: clock stops
        .at(2_000, "beat", .poll), .at(2_000, "beat", .slept), .at(2_000, "beat", .done),
        // No deadline left: the run blocks "forever", and the clock jumps to the next raise.
        .at(4_000, "button", .poll), .at(4_000, "button", .took(7)), .at(4_000, "button", .done),
      ])
  }
}
