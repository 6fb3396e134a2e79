// Spawning from inside a task (`cx.spawn`) and waiting for a task to finish (`cx.join`), in
// virtual time: the spawned task runs in the next turn, a full executor is `.taskSlots` (no
// growth), a join is generation-safe (a finished task's slot reused by a new task still counts
// as finished), a cancelled task's joiner is woken, and the steady state allocates nothing.

import AllocCounter
import LoopCore
import LoopTesting
import Testing

/// What the jobs share: a log of what they did, at which virtual time (ms).
struct JobLog: ~Copyable {
  var events: [String] = []
  /// When false, nothing is logged (allocation test).
  var logs = true
  /// Workers finished, spawns refused, joins completed: counted even when not logging.
  var finished = 0
  var refused = 0
  var joined = 0

  mutating func log<S: Scheduler & ~Copyable>(_ cx: inout Context<S>, _ what: @autoclosure () -> String) {
    if logs { events.append("\(cx.now.nanoseconds / 1_000_000)ms \(what())") }
  }
}

/// The tasks of these tests.
enum Job: TaskBody {
  /// Sleeps until `ms` after its first poll (`deadline` set then), then finishes.
  case worker(name: Int, ms: Int64, deadline: Instant?)
  /// Spawns a worker per entry of `ms` (worker i sleeping ms[i]), then joins them in order;
  /// finishes when all have finished, or at once when a spawn is refused.
  case parent(Parent)
  /// Waits for `task` to finish.
  case joiner(name: String, task: Waker)

  mutating func poll<S: Scheduler<Job> & ~Copyable>(_ cx: inout Context<S>, _ log: inout JobLog)
    -> Poll<Void>
  {
    switch self {
    case .worker(let name, let ms, let deadline):
      let until = deadline ?? cx.now + .milliseconds(ms)
      self = .worker(name: name, ms: ms, deadline: until)
      guard case .ready = try! cx.sleep(until: until) else { return .pending }
      log.finished += 1
      log.log(&cx, "worker \(name) done")
      return .ready(())
    case .parent(var parent):
      defer { self = .parent(parent) }
      while parent.spawned < parent.ms.count {
        let n = parent.spawned
        do throws(CapacityError) {
          parent.handles[n] = try cx.spawn(.worker(name: n, ms: parent.ms[n], deadline: nil))
          parent.spawned += 1
          log.log(&cx, "spawned worker \(n)")
        } catch {
          log.refused += 1
          log.log(&cx, "spawn refused: \(error)")
          return .ready(())
        }
      }
      while parent.joined < parent.spawned {
        guard case .ready = cx.join(parent.handles[parent.joined]) else { return .pending }
        log.joined += 1
        log.log(&cx, "joined worker \(parent.joined)")
        parent.joined += 1
      }
      return .ready(())
    case .joiner(let name, let task):
      guard case .ready = cx.join(task) else { return .pending }
      log.joined += 1
      log.log(&cx, "\(name) joined")
      return .ready(())
    }
  }
}

/// A parent job's state: its workers' sleeps, the handles `cx.spawn` gave, and progress.
struct Parent {
  let ms: [Int64]
  var handles = InlineArray<4, Waker>(repeating: Waker(slot: 0, generation: 0))
  var spawned = 0
  var joined = 0

  init(_ ms: [Int64]) {
    precondition(ms.count <= 4, "Parent: at most 4 workers")
    self.ms = ms
  }
}

@Suite struct SpawnJoinTests {
  typealias JobExecutor<let slots: Int> = Executor<slots, 4, Job, VirtualPlatform>

  /// A parent spawns two workers from its poll; each runs from the next turn, and the parent
  /// wakes exactly when each one it joins has finished.
  @Test func parentSpawnsAndJoinsWorkers() throws {
    var log = JobLog()
    var executor = JobExecutor<3>(platform: VirtualPlatform(advancesToDeadline: true))
    try executor.spawn(.parent(Parent([20, 10])))
    #expect(executor.run(&log) == .allTasksFinished)
    #expect(
      log.events == [
        "0ms spawned worker 0", "0ms spawned worker 1",
        // Worker 1 finishes first; the parent waits for worker 0 and is not woken by 1.
        "10ms worker 1 done",
        "20ms worker 0 done", "20ms joined worker 0", "20ms joined worker 1",
      ])
    #expect(executor.counters.staleWakes == 0)
  }

  /// A spawned task is queued behind the tasks already ready: polled in the next turn.
  @Test func spawnedTaskRunsInTheNextTurn() throws {
    var log = JobLog()
    var executor = JobExecutor<3>(platform: VirtualPlatform())
    let parent = try executor.spawn(.parent(Parent([0])))
    #expect(executor.liveTasks == 1)
    executor.runUntilStalled(&log)
    // Turn 1: the parent spawns and joins (pending). Turn 2: the worker finishes, waking the
    // parent. Turn 3: the parent's join is ready.
    #expect(log.events == ["0ms spawned worker 0", "0ms worker 0 done", "0ms joined worker 0"])
    #expect(executor.liveTasks == 0)
    #expect(executor.stats(parent) == nil)
  }

  /// With every slot taken, `cx.spawn` throws `.taskSlots` and nothing else changes; a slot
  /// freed later can be spawned into again.
  @Test func fullExecutorRefusesTheSpawn() throws {
    var log = JobLog()
    var executor = JobExecutor<2>(platform: VirtualPlatform())
    try executor.spawn(.parent(Parent([10, 10])))
    executor.runUntilStalled(&log)
    #expect(log.events == ["0ms spawned worker 0", "0ms spawn refused: taskSlots"])
    #expect(log.refused == 1)
    #expect(executor.liveTasks == 1)  // The parent finished; worker 0 still sleeps.
    executor.platform.advance(by: .milliseconds(10))
    executor.runUntilStalled(&log)
    #expect(executor.liveTasks == 0)
    try executor.spawn(.parent(Parent([0])))
    executor.runUntilStalled(&log)
    #expect(log.events.suffix(3) == ["10ms spawned worker 0", "10ms worker 0 done", "10ms joined worker 0"])
  }

  /// A join names a task by slot and generation: once that task has finished, a new task in
  /// the same slot does not make the old join wait for it, and the new task's join waits.
  @Test func joinIsGenerationSafe() throws {
    var log = JobLog()
    var executor = JobExecutor<3>(platform: VirtualPlatform())
    let old = try executor.spawn(.worker(name: 0, ms: 0, deadline: nil))
    executor.runUntilStalled(&log)  // The old worker finishes; slot 0 is free.
    let new = try executor.spawn(.worker(name: 1, ms: 50, deadline: nil))
    #expect(new.slot == old.slot && new.generation != old.generation)
    try executor.spawn(.joiner(name: "old", task: old))
    try executor.spawn(.joiner(name: "new", task: new))
    executor.runUntilStalled(&log)
    #expect(log.events == ["0ms worker 0 done", "0ms old joined"])
    executor.platform.advance(by: .milliseconds(50))
    executor.runUntilStalled(&log)
    #expect(log.events.suffix(2) == ["50ms worker 1 done", "50ms new joined"])
    #expect(executor.liveTasks == 0)
  }

  /// Cancelling a task from outside wakes its joiner, whose join is then ready.
  @Test func cancelWakesTheJoiner() throws {
    var log = JobLog()
    var executor = JobExecutor<2>(platform: VirtualPlatform())
    let worker = try executor.spawn(.worker(name: 0, ms: 1_000, deadline: nil))
    try executor.spawn(.joiner(name: "j", task: worker))
    executor.runUntilStalled(&log)
    #expect(log.events.isEmpty)
    let cancelled = executor.cancel(worker)
    #expect(cancelled)
    executor.runUntilStalled(&log)
    #expect(log.events == ["0ms j joined"])
    #expect(executor.liveTasks == 0)
  }

  /// Two tasks joining one task replace each other as its one joiner: a debug build traps
  /// (checked in a child process) instead of spinning at 100% CPU.
  @Test func twoJoinersTrapInDebugBuilds() async throws {
    #if DEBUG
      await #expect(processExitsWith: .failure) {
        var log = JobLog()
        var executor = JobExecutor<3>(platform: VirtualPlatform())
        let worker = try executor.spawn(.worker(name: 0, ms: 1_000, deadline: nil))
        try executor.spawn(.joiner(name: "a", task: worker))
        try executor.spawn(.joiner(name: "b", task: worker))
        executor.runUntilStalled(&log)
      }
    #endif
  }

  /// One round of the allocation test: a parent spawns three workers (1, 0 and 2 ms) and
  /// joins them; the clock moves 1 ms at a time until all have finished.
  static func round(_ executor: inout JobExecutor<4>, _ log: inout JobLog, _ parent: Parent)
    throws(CapacityError)
  {
    try executor.spawn(.parent(parent))
    for _ in 0..<4 {
      executor.runUntilStalled(&log)
      executor.platform.advance(by: .milliseconds(1))
    }
    precondition(executor.liveTasks == 0, "round: a task did not finish")
  }

  /// Spawning and joining from tasks, 10,000 rounds, allocate nothing once warm (generic
  /// metadata of the debug build is paid by the warm-up; the parent's `ms` array is shared).
  @Test func spawnAndJoinAllocateNothing() throws {
    #expect(sl_alloc_counter_active() == 1)
    var log = JobLog()
    log.logs = false
    var executor = JobExecutor<4>(platform: VirtualPlatform())
    let parent = Parent([1, 0, 2])
    for _ in 0..<10 { try Self.round(&executor, &log, parent) }
    let before = sl_alloc_count_thread()
    for _ in 0..<10_000 { try Self.round(&executor, &log, parent) }
    #expect(sl_alloc_count_thread() - before == 0)
    #expect(log.finished == 3 * 10_010)
    #expect(log.joined == 3 * 10_010)
  }
}
