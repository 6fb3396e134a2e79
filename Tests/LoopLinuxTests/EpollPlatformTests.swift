// The epoll platform under a real executor with real fds: timers through the one timerfd,
// triggers raised from other threads, watched pipes, and the counters that prove the timerfd is
// re-armed only when the earliest deadline changes and that a stalled loop shows as overruns.
// No timed assertions: only orderings and lower bounds that hold however slow the host is.

import Foundation
import LoopCore
import LoopLinux
import Testing

@Suite struct EpollPlatformTests {
  /// Timers fire in deadline order, whatever the spawn order, and never before their deadline.
  @Test func timersFireInOrderAndNeverEarly() throws {
    var executor = try makeExecutor()
    // (task id, milliseconds after the first poll), spawned out of order; two share a deadline.
    // 50 ms of margin: every task arms its timer in the first turn, before any is due.
    let timers = [(1, 55), (2, 51), (3, 54), (4, 52), (5, 53), (6, 53)]
    for (id, ms) in timers { try executor.spawn(.gridSleeper(id: id, offset: .milliseconds(Int64(ms)))) }
    var world = LinuxWorld(stopAfter: timers.count)
    #expect(executor.run(&world) == .stopped)
    // Equal deadlines fire in the order they were armed (5 before 6).
    #expect(world.events == ["2:fired", "4:fired", "5:fired", "6:fired", "3:fired", "1:fired"])
    for record in world.log {
      let deadline = world.base! + .milliseconds(Int64(timers.first { $0.0 == record.task }!.1))
      #expect(record.at >= deadline, "task \(record.task) fired early")
    }
    #expect(executor.platform.counters.timerFires >= 1)
  }

  /// A trigger raised by another thread wakes the one task waiting on its line and no other.
  @Test func triggerFromAnotherThreadWakesExactlyTheWaiter() throws {
    var executor = try makeExecutor()
    var wakers: [Waker] = []
    var triggers: [InterruptTrigger] = []
    for id in 1...3 {
      let line = Interrupt(id)
      triggers.append(try executor.platform.makeTrigger(for: line))
      wakers.append(try executor.spawn(.waiter(id: id, line: line)))
    }
    let chosen = triggers[1]
    let thread = Thread {
      Thread.sleep(forTimeInterval: 0.02)
      chosen.raise()
    }
    thread.start()
    var world = LinuxWorld(stopAfter: 1)
    #expect(executor.run(&world) == .stopped)
    #expect(world.events == ["2:woke"])
    // The other waiters were polled once (to register) and never woken.
    #expect(executor.stats(wakers[0])?.wakes == 0)
    #expect(executor.stats(wakers[2])?.wakes == 0)
    #expect(executor.stats(wakers[1]) == nil)  // finished
    #expect(executor.platform.counters.triggerWakes == 1)
  }

  /// Many raises before the loop wakes coalesce into one wake, like a level interrupt.
  @Test func raisesCoalesce() throws {
    var platform = try EpollPlatform()
    let trigger = try platform.makeTrigger(for: Interrupt(9))
    for _ in 0..<1000 { trigger.raise() }
    var raised = InterruptSet()
    platform.wait(.poll, raised: &raised)
    #expect(raised.contains(Interrupt(9)))
    raised = InterruptSet()
    platform.wait(.poll, raised: &raised)
    #expect(raised.isEmpty)
    #expect(platform.counters.triggerWakes == 1)
  }

  /// Waits that keep the same earliest deadline do not touch the timerfd: 200 trigger round
  /// trips while one deadline is pending arm it once; the next deadline arms it once more.
  @Test func timerfdIsReArmedOnlyWhenTheEarliestDeadlineChanges() throws {
    var executor = LinuxExecutor(platform: try EpollPlatform())
    let trigger = try executor.platform.makeTrigger(for: Interrupt(1))
    try executor.spawn(.gridSleeper(id: 1, offset: .milliseconds(300)))
    try executor.spawn(.gridSleeper(id: 2, offset: .milliseconds(400)))
    try executor.spawn(.pinger(id: 3, trigger: trigger, remaining: 200, waiting: false))
    var world = LinuxWorld()
    #expect(executor.run(&world) == .allTasksFinished)
    #expect(world.events.sorted() == ["1:fired", "2:fired", "3:pinged"])
    let counters = executor.platform.counters
    // One arm for 300 ms (kept through every ping's wait), one for 400 ms, none for `.forever`.
    #expect(counters.timerArms == 2)
    #expect(counters.triggerWakes == 200)
    #expect(counters.waits >= 200)
  }

  /// An earlier deadline re-arms; the same deadline asked for again does not.
  @Test func deadlineChangesAreArmedOnce() throws {
    var platform = try EpollPlatform()
    let base = platform.now() + .seconds(60)
    var raised = InterruptSet()
    let trigger = try platform.makeTrigger(for: Interrupt(0))
    // Each step: the deadline the executor waits with, and the arms counted after it.
    let steps: [(Duration, UInt64)] = [
      (.seconds(2), 1), (.seconds(2), 1), (.seconds(1), 2), (.seconds(1), 2), (.seconds(3), 3),
    ]
    for (offset, arms) in steps {
      trigger.raise()  // so the wait returns at once
      platform.wait(.deadline(base + offset), raised: &raised)
      #expect(platform.counters.timerArms == arms)
      #expect(platform.armedDeadline == base + offset)
    }
    // `.forever` and `.poll` leave the armed deadline alone.
    trigger.raise()
    platform.wait(.forever, raised: &raised)
    platform.wait(.poll, raised: &raised)
    #expect(platform.counters.timerArms == 3)
  }

  /// A timer whose expiration has been read is re-armed even for the same deadline, so a
  /// deadline in the past cannot leave the loop blocked forever.
  @Test func anExpiredDeadlineIsArmedAgain() throws {
    var platform = try EpollPlatform()
    let past = platform.now() - .milliseconds(5)
    var raised = InterruptSet()
    platform.wait(.deadline(past), raised: &raised)
    #expect(platform.counters.timerFires == 1)
    #expect(platform.armedDeadline == nil)
    platform.wait(.deadline(past), raised: &raised)
    #expect(platform.counters.timerFires == 2)
    #expect(platform.counters.timerArms == 2)
  }

  /// A task that blocks the loop past a deadline makes that deadline an overrun.
  @Test func stalledLoopCountsOverruns() throws {
    var executor = LinuxExecutor(platform: try EpollPlatform())
    // The sleeper arms "1 ms after my first poll"; the staller then blocks the thread for 30 ms
    // in the same turn, so the deadline is at least 29 ms late when the loop reaches epoll_wait.
    try executor.spawn(.relativeSleeper(id: 1, after: .milliseconds(1), deadline: nil))
    try executor.spawn(.staller(stall: .milliseconds(30)))
    var world = LinuxWorld()
    #expect(executor.run(&world) == .allTasksFinished)
    #expect(world.events == ["1:fired"])
    let counters = executor.platform.counters
    #expect(counters.timerFires == 1)
    #expect(counters.overruns == 1)
    #expect(counters.maxTimerLateness >= .milliseconds(29))
  }

  /// Without a stall, a generous threshold sees no overrun.
  @Test func unstalledLoopCountsNoOverrun() throws {
    var executor = LinuxExecutor(platform: try EpollPlatform())
    executor.platform.overrunThreshold = .seconds(2)
    let start = monotonicNow()
    for i in 1...5 { try executor.spawn(.sleeper(id: i, until: start + .milliseconds(Int64(i)))) }
    var world = LinuxWorld()
    #expect(executor.run(&world) == .allTasksFinished)
    #expect(world.log.count == 5)
    #expect(executor.platform.counters.overruns == 0)
  }

  /// A watched pipe raises its line on each edge; the reader drains to EAGAIN every time and
  /// sees every byte, then EOF when the writer closes.
  @Test func watchedPipeDeliversEveryByteAndEOF() throws {
    var executor = try makeExecutor()
    let pipe = try FileDescriptor.pipe()
    let writeEnd = pipe.write.release()
    let readEnd = pipe.read
    try executor.platform.watch(readEnd.rawValue, as: Interrupt(7), for: .readable)
    try executor.spawn(.reader(id: 1, line: Interrupt(7)))
    let thread = Thread {
      let fd = FileDescriptor(adopting: writeEnd)
      let chunk = [UInt8](repeating: 0x55, count: 100)
      for _ in 0..<5 {
        _ = try! chunk.withUnsafeBytes { try fd.write($0) }
        Thread.sleep(forTimeInterval: 0.005)
      }
      try! fd.close()
    }
    thread.start()
    var world = LinuxWorld(stopAfter: 1, readFD: readEnd.rawValue)
    #expect(executor.run(&world) == .stopped)
    #expect(world.events == ["1:eof 500"])
    try executor.platform.unwatch(readEnd.rawValue)
  }

  /// Watching for writability raises the line at once on an empty pipe (edge on registration).
  @Test func watchWritable() throws {
    var platform = try EpollPlatform()
    let pipe = try FileDescriptor.pipe()
    try platform.watch(pipe.write.rawValue, as: Interrupt(3), for: .writable)
    var raised = InterruptSet()
    platform.wait(.poll, raised: &raised)
    #expect(raised.contains(Interrupt(3)))
    // Edge-triggered: nothing changed, so no second report.
    raised = InterruptSet()
    platform.wait(.poll, raised: &raised)
    #expect(raised.isEmpty)
    // Watching again replaces the line.
    try platform.watch(pipe.write.rawValue, as: Interrupt(4), for: .both)
    platform.wait(.poll, raised: &raised)
    #expect(raised.contains(Interrupt(4)) && !raised.contains(Interrupt(3)))
  }

  /// Environment errors are thrown values: unwatching an unknown fd, watching a regular file,
  /// a full trigger table.
  @Test func errorsAreThrown() throws {
    var platform = try EpollPlatform()
    let pipe = try FileDescriptor.pipe()
    #expect(throws: Errno.noEntry) { try platform.unwatch(pipe.read.rawValue) }
    let file = try FileDescriptor.open("/proc/self/stat")
    #expect(throws: Errno.notPermitted) {
      try platform.watch(file.rawValue, as: Interrupt(1), for: .readable)
    }
    for i in 0..<EpollPlatform.triggerCapacity { _ = try platform.makeTrigger(for: Interrupt(i)) }
    #expect(throws: Errno.noSpace) { _ = try platform.makeTrigger(for: Interrupt(63)) }
  }

  /// An idle executor blocks in epoll_wait with no timeout until a trigger arrives.
  @Test func idleLoopBlocksUntilRaised() throws {
    var executor = LinuxExecutor(platform: try EpollPlatform())
    let trigger = try executor.platform.makeTrigger(for: Interrupt(2))
    try executor.spawn(.waiter(id: 1, line: Interrupt(2)))
    let thread = Thread {
      Thread.sleep(forTimeInterval: 0.05)
      trigger.raise()
    }
    thread.start()
    var world = LinuxWorld()
    #expect(executor.run(&world) == .allTasksFinished)
    #expect(world.events == ["1:woke"])
    // One blocking wait (no deadline: no timerfd arm) returned with the trigger's event.
    #expect(executor.platform.counters.timerArms == 0)
    #expect(executor.platform.counters.wakeups == 1)
  }
}
