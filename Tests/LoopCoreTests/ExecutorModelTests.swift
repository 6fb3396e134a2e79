// Model-based test of the executor core: a seeded random sequence of operations (spawn, wake
// with live, stale and made-up wakers, cancel, interrupts raised directly and through the
// platform, virtual time, runUntilStalled, a changing pollsPerPlatformCheck) runs against the
// real executor and against `ExecutorModel`, a plain-Swift reference written from the
// documented behaviour. After every operation the traces, slots, timers and counters must agree.
//
// Reproduce a failure with the printed seed: LOOPCORE_MODEL_SEED=<seed> swift test --filter
// ExecutorModelTests (LOOPCORE_MODEL_OPS=<n> runs longer).

import Foundation
import LoopCore
import LoopTesting
import Testing

/// SplitMix64 (Steele, Lea, Flood 2014): a tiny seeded generator, identical on every platform.
struct SplitMix64 {
  private var state: UInt64

  init(seed: UInt64) { state = seed }

  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }

  /// A number in `0..<n` (n > 0).
  mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }

  /// True `percent` times in 100.
  mutating func chance(_ percent: Int) -> Bool { below(100) < percent }
}

/// The reference: what the executor should do, in arrays and dictionaries, step by step.
///
/// Rules (from the docs of Executor, Context, Kernel and ScriptedTask):
/// - spawn takes the lowest free slot, queues the task; generation grows when a slot is freed.
/// - a wake of an idle task queues it; of a running one re-queues it after the poll; of a queued
///   one does nothing; of a finished or reused slot is counted as stale.
/// - the loop polls in turns: a turn polls the tasks queued when it began, in FIFO order; after
///   a turn, once `pollsPerCheck` polls have passed since the last platform check (of any
///   kind: a mid-turn one or the one `runUntilStalled` begins with), it checks the platform
///   without blocking.
/// - a platform check delivers lines raised through the platform (lowest first), then wakes the
///   tasks whose deadlines are due (earliest first, equal ones in arming order).
/// - a poll's deadline is the earliest it asked for; none asked = none held; an unchanged one
///   keeps its arming order; a request throws when the task holds no timer and all are in use.
/// - a raised line is latched pending and its handler (one per line) is woken and unregistered;
///   taking makes the taker the handler (waking the handler it replaces), then consumes the
///   latch if it was set.
struct ExecutorModel {
  enum Phase { case free, idle, queued, running, runningWoken }

  /// The model's own copy of a ScriptedTask's state.
  struct Task {
    var name: String
    var steps: [Step]
    var pc = 0
    var begun = false
    var deadline = Instant.zero
    var secondDeadline = Instant.zero
    var yieldsLeft = 0
  }

  struct Slot {
    var generation: UInt32 = 0
    var phase = Phase.free
    var task: Task?
    var polls: UInt64 = 0
    var wakes: UInt64 = 0
  }

  struct Timer {
    var slot: Int
    var deadline: Instant
    var armedAs: Int  // arming order
  }

  let timerCapacity: Int
  var slots: [Slot]
  var ready: [Int] = []
  var timers: [Timer] = []
  var armings = 0
  var pending = Set<Int>()
  var handlers: [Int: Waker] = [:]
  var platformLines = Set<Int>()
  var time = Instant.zero
  var stopRequested = false
  var pollsSinceCheck = 0
  var pollsPerCheck = 64
  var midTurnChecks = 0
  var counters = ExecutorCounters()
  var trace: [TraceEvent] = []
  var wakers: [String: Waker] = [:]

  init(slots: Int, timers: Int) {
    self.slots = Array(repeating: Slot(), count: slots)
    timerCapacity = timers
  }

  var live: Int {
    var n = 0
    for s in slots.indices where slots[s].phase != .free { n += 1 }
    return n
  }

  func waker(_ s: Int) -> Waker { Waker(slot: UInt16(s), generation: slots[s].generation) }

  func isCurrent(_ w: Waker) -> Bool {
    Int(w.slot) < slots.count && slots[Int(w.slot)].generation == w.generation
      && slots[Int(w.slot)].phase != .free
  }

  func timer(of s: Int) -> Timer? { timers.first { $0.slot == s } }

  // MARK: Owner operations

  mutating func spawn(_ task: Task) -> Waker? {
    guard let s = slots.firstIndex(where: { $0.phase == .free }) else { return nil }
    slots[s].phase = .queued
    slots[s].task = task
    slots[s].polls = 0
    slots[s].wakes = 0
    ready.append(s)
    return waker(s)
  }

  mutating func cancel(_ w: Waker) -> Bool {
    guard isCurrent(w) else { return false }
    ready.removeAll { $0 == Int(w.slot) }
    free(Int(w.slot))
    return true
  }

  mutating func free(_ s: Int) {
    timers.removeAll { $0.slot == s }
    slots[s].phase = .free
    slots[s].task = nil
    slots[s].generation &+= 1
  }

  mutating func wake(_ w: Waker) {
    guard isCurrent(w) else {
      counters.staleWakes += 1
      return
    }
    let s = Int(w.slot)
    switch slots[s].phase {
    case .idle:
      slots[s].phase = .queued
      slots[s].wakes += 1
      ready.append(s)
    case .running:
      slots[s].phase = .runningWoken
      slots[s].wakes += 1
    case .free, .queued, .runningWoken:
      break
    }
  }

  mutating func raise(_ line: Int) {
    counters.interruptsRaised += 1
    pending.insert(line)
    if let handler = handlers.removeValue(forKey: line) { wake(handler) }
  }

  mutating func take(_ line: Int, by s: Int) -> Bool {
    if let old = handlers[line], old != waker(s) { wake(old) }
    handlers[line] = waker(s)
    return pending.remove(line) != nil
  }

  mutating func checkPlatform() {
    counters.platformWaits += 1
    pollsSinceCheck = 0
    for line in platformLines.sorted() { raise(line) }
    platformLines.removeAll()
    while true {
      let due = timers.indices.filter { timers[$0].deadline <= time }
      guard
        let first = due.min(by: {
          (timers[$0].deadline, timers[$0].armedAs) < (timers[$1].deadline, timers[$1].armedAs)
        })
      else { break }
      let s = timers.remove(at: first).slot
      counters.timersFired += 1
      wake(waker(s))
    }
  }

  mutating func runUntilStalled() -> Int {
    var polls = 0
    while !stopRequested {
      checkPlatform()
      if ready.isEmpty { break }
      while !ready.isEmpty && !stopRequested {
        for _ in 0..<ready.count {
          poll(ready.removeFirst())
          polls += 1
        }
        if pollsSinceCheck >= pollsPerCheck {
          pollsSinceCheck = 0
          midTurnChecks += 1
          checkPlatform()
        }
      }
    }
    stopRequested = false
    return polls
  }

  // MARK: One poll

  mutating func poll(_ s: Int) {
    slots[s].phase = .running
    slots[s].polls += 1
    pollsSinceCheck += 1
    var task = slots[s].task!
    var asked: [Instant] = []
    let finished = run(&task, in: s, asked: &asked)
    if finished {
      free(s)
      return
    }
    slots[s].task = task
    let held = timer(of: s)?.deadline
    let wanted = asked.min()
    if held != wanted {
      timers.removeAll { $0.slot == s }
      if let wanted {
        timers.append(Timer(slot: s, deadline: wanted, armedAs: armings))
        armings += 1
      }
    }
    if slots[s].phase == .runningWoken {
      slots[s].phase = .queued
      ready.append(s)
    } else {
      slots[s].phase = .idle
    }
  }

  /// A deadline request from slot `s`; false when the timer queue refuses it.
  func mayArm(_ s: Int, alreadyAsked: [Instant]) -> Bool {
    timer(of: s) != nil || !alreadyAsked.isEmpty || timers.count < timerCapacity
  }

  /// Runs `task`'s script for one poll; true when it finished.
  mutating func run(_ task: inout Task, in s: Int, asked: inout [Instant]) -> Bool {
    let now = time
    let name = task.name
    trace.append(TraceEvent(now, name, .poll))
    while task.pc < task.steps.count {
      var stepDone = true
      switch task.steps[task.pc] {
      case .sleep(let d):
        if !task.begun {
          task.begun = true
          task.deadline = now + d
        }
        if now >= task.deadline {
          trace.append(TraceEvent(now, name, .slept))
        } else {
          if mayArm(s, alreadyAsked: asked) {
            asked.append(task.deadline)
          } else {
            trace.append(TraceEvent(now, name, .timerQueueFull))
          }
          stepDone = false
        }
      case .sleepEither(let first, let second):
        if !task.begun {
          task.begun = true
          task.deadline = now + first
          task.secondDeadline = now + second
        }
        if now >= task.deadline || now >= task.secondDeadline {
          trace.append(TraceEvent(now, name, .slept))
        } else {
          // Both requests go through, or the first is refused and the second never made.
          if mayArm(s, alreadyAsked: asked) {
            asked.append(task.deadline)
            asked.append(task.secondDeadline)
          } else {
            trace.append(TraceEvent(now, name, .timerQueueFull))
          }
          stepDone = false
        }
      case .wakeAt(let ds):
        if !task.begun {
          task.begun = true
          for d in ds {
            if mayArm(s, alreadyAsked: asked) {
              asked.append(now + d)
            } else {
              trace.append(TraceEvent(now, name, .timerQueueFull))
            }
          }
          stepDone = false
        }
      case .wait(let line):
        if take(line.number, by: s) {
          trace.append(TraceEvent(now, name, .took(line.number)))
        } else {
          stepDone = false
        }
      case .listen(let line):
        if !task.begun {
          task.begun = true
          if take(line.number, by: s) { trace.append(TraceEvent(now, name, .took(line.number))) }
          stepDone = false
        }
      case .yield(let times):
        if !task.begun {
          task.begun = true
          task.yieldsLeft = times
        }
        if task.yieldsLeft > 0 {
          task.yieldsLeft -= 1
          wake(waker(s))
          stepDone = false
        }
      case .idle:
        if !task.begun {
          task.begun = true
          stepDone = false
        }
      case .wake(let other):
        wake(wakers[other]!)
        trace.append(TraceEvent(now, name, .woke(other)))
      case .raise(let line):
        raise(line.number)
        trace.append(TraceEvent(now, name, .raised(line.number)))
      case .stop:
        stopRequested = true
        trace.append(TraceEvent(now, name, .stop))
      }
      if !stepDone { return false }
      task.pc += 1
      task.begun = false
    }
    trace.append(TraceEvent(now, name, .done))
    return true
  }
}

@Suite struct ExecutorModelTests {
  static let slots = 8
  static let timers = 5

  /// Lines tasks may `wait` on: each live task owns one, so two `wait` loops never fight over a
  /// line (they would replace and wake each other forever, as one handler per line implies).
  static let waitLines = 8
  /// Lines used by `listen`, `raise` and the owner: the wait lines, a few more, and the last.
  static let anyLines = Array(0..<12) + [63]

  @Test func executorAgreesWithTheReferenceModel() throws {
    let env = ProcessInfo.processInfo.environment
    let seed = env["LOOPCORE_MODEL_SEED"].flatMap { UInt64($0) } ?? 0x5EED_2026_C0DE
    let operations = env["LOOPCORE_MODEL_OPS"].flatMap { Int($0) } ?? 100_000
    print("ExecutorModelTests: seed \(seed), \(operations) operations")
    let clock = ContinuousClock()
    let start = clock.now
    let stats = try runModel(seed: seed, operations: operations)
    print(
      "ExecutorModelTests: \(operations) operations (\(stats.polls) polls, \(stats.spawns) spawns, "
        + "\(stats.refusedSpawns) refused, \(stats.timerQueueFull) timer-queue-full, "
        + "\(stats.staleWakes) stale wakes, \(stats.timersFired) timers fired) in \(clock.now - start)")
    // The run must have reached the interesting corners, or agreeing proves little.
    #expect(stats.refusedSpawns > 0)
    #expect(stats.timerQueueFull > 0)
    #expect(stats.staleWakes > 0)
    #expect(stats.timersFired > 0)
    #expect(stats.midTurnChecks > 0)
  }

  /// One random operation, kept for the failure message.
  enum Operation {
    case spawn(String, [Step])
    case wakeLive(Waker), wakeIssued(Waker), wakeMadeUp(Waker), cancel(Waker)
    case raise(Int), platformRaise(Int), advance(Duration)
    case runUntilStalled, pollsPerPlatformCheck(Int)
  }

  struct RunStats {
    var polls = 0
    var spawns = 0
    var refusedSpawns = 0
    var timerQueueFull = 0
    var staleWakes: UInt64 = 0
    var timersFired: UInt64 = 0
    var midTurnChecks = 0
  }

  func runModel(seed: UInt64, operations: Int) throws -> RunStats {
    var rng = SplitMix64(seed: seed)
    var executor = Executor<8, 5, ScriptedTask, VirtualPlatform>(platform: VirtualPlatform())
    var world = TraceWorld()
    var model = ExecutorModel(slots: Self.slots, timers: Self.timers)
    var stats = RunStats()
    var issued: [Waker] = []  // every waker ever handed out, live or stale
    var names: [String] = []  // every task name spawned
    var ownedLine: [String: Int] = [:]  // the wait line of each task
    var log: [(Int, Operation)] = []  // the latest operations, for the failure message

    func fail(_ op: Int, _ what: String) -> Comment {
      let recent = log.suffix(12).map { "\($0.0): \($0.1)" }.joined(separator: "\n")
      return Comment(rawValue: "seed \(seed), operation \(op): \(what)\nlast operations:\n\(recent)")
    }

    for op in 0..<operations {
      let roll = rng.below(100)
      switch roll {
      case 0..<18:  // spawn
        let name = "t\(names.count)"
        let taken = model.slots.compactMap { $0.task.flatMap { ownedLine[$0.name] } }
        let myLine = (0..<Self.waitLines).first { !taken.contains($0) } ?? 0  // 0: full, refused
        let steps = randomScript(&rng, name: name, others: names, waitLine: myLine)
        log.append((op, .spawn(name, steps)))
        let expected = model.spawn(ExecutorModel.Task(name: name, steps: steps))
        do {
          let w = try executor.spawn(ScriptedTask(name, steps))
          guard w == expected else {
            Issue.record(fail(op, "spawn returned \(w), model \(String(describing: expected))"))
            return stats
          }
          names.append(name)
          ownedLine[name] = myLine
          world.wakers[name] = w
          model.wakers[name] = w
          issued.append(w)
          stats.spawns += 1
        } catch {
          guard expected == nil, error == .taskSlots else {
            Issue.record(fail(op, "spawn threw \(error), model \(String(describing: expected))"))
            return stats
          }
          stats.refusedSpawns += 1
        }
      case 18..<32:  // wake a live task
        let live = model.slots.indices.filter { model.slots[$0].phase != .free }
        guard !live.isEmpty else { continue }
        let w = model.waker(live[rng.below(live.count)])
        log.append((op, .wakeLive(w)))
        executor.wake(w)
        model.wake(w)
      case 32..<37:  // wake any waker ever issued (mostly stale)
        guard !issued.isEmpty else { continue }
        let w = issued[rng.below(issued.count)]
        log.append((op, .wakeIssued(w)))
        executor.wake(w)
        model.wake(w)
      case 37..<40:  // wake a made-up waker
        let w = Waker(slot: UInt16(rng.below(Self.slots + 3)), generation: UInt32(rng.below(4)))
        log.append((op, .wakeMadeUp(w)))
        executor.wake(w)
        model.wake(w)
      case 40..<47:  // cancel a live task or any waker ever issued
        let live = model.slots.indices.filter { model.slots[$0].phase != .free }
        guard !issued.isEmpty else { continue }
        let w =
          rng.chance(50) && !live.isEmpty
          ? model.waker(live[rng.below(live.count)]) : issued[rng.below(issued.count)]
        log.append((op, .cancel(w)))
        let got = executor.cancel(w)
        let want = model.cancel(w)
        guard got == want else {
          Issue.record(fail(op, "cancel returned \(got), model \(want)"))
          return stats
        }
      case 47..<54:  // raise from the owner
        let l = Self.anyLines[rng.below(Self.anyLines.count)]
        log.append((op, .raise(l)))
        executor.raise(Interrupt(l))
        model.raise(l)
      case 54..<59:  // raise through the platform
        let l = Self.anyLines[rng.below(Self.anyLines.count)]
        log.append((op, .platformRaise(l)))
        executor.platform.raise(Interrupt(l))
        model.platformLines.insert(l)
      case 59..<73:  // advance the clock
        var by = Duration.milliseconds(Int64(rng.below(16)))
        if let next = model.timers.map(\.deadline).min(), next > model.time, rng.chance(40) {
          by = next - model.time - (rng.chance(50) ? .nanoseconds(1) : .zero)
        }
        log.append((op, .advance(by)))
        executor.platform.advance(by: by)
        model.time += by
      case 73..<98:  // run until stalled
        log.append((op, .runUntilStalled))
        let got = executor.runUntilStalled(&world)
        let want = model.runUntilStalled()
        stats.polls += want
        guard got == want else {
          Issue.record(fail(op, "runUntilStalled polled \(got), model \(want)"))
          return stats
        }
      default:  // retune the busy-loop check
        let n = [1, 2, 3, 5, 64][rng.below(5)]
        log.append((op, .pollsPerPlatformCheck(n)))
        executor.pollsPerPlatformCheck = n
        model.pollsPerCheck = n
      }
      if log.count > 64 { log.removeFirst(32) }

      // Everything observable must agree after every operation.
      let trace = world.drain()
      stats.timerQueueFull += trace.filter { $0.kind == .timerQueueFull }.count
      guard trace == model.trace else {
        Issue.record(fail(op, "trace \(trace)\nmodel \(model.trace)"))
        return stats
      }
      model.trace.removeAll()
      guard executor.counters == model.counters else {
        Issue.record(fail(op, "counters \(executor.counters)\nmodel \(model.counters)"))
        return stats
      }
      guard executor.liveTasks == model.live else {
        Issue.record(fail(op, "live \(executor.liveTasks), model \(model.live)"))
        return stats
      }
      guard executor.armedTimers == model.timers.count,
        executor.nextDeadline == model.timers.map(\.deadline).min()
      else {
        Issue.record(
          fail(
            op,
            "timers \(executor.armedTimers) next \(String(describing: executor.nextDeadline)), "
              + "model \(model.timers)"))
        return stats
      }
      for s in 0..<Self.slots {
        let want: Waker? = model.slots[s].phase == .free ? nil : model.waker(s)
        guard executor.waker(slot: s) == want else {
          Issue.record(fail(op, "slot \(s): \(String(describing: executor.waker(slot: s)))"))
          return stats
        }
        guard let w = want else { continue }
        let taskStats = executor.stats(w)
        let task = executor.task(w)
        guard taskStats?.polls == model.slots[s].polls, taskStats?.wakes == model.slots[s].wakes,
          task?.name == model.slots[s].task?.name, task?.pc == model.slots[s].task?.pc
        else {
          Issue.record(
            fail(op, "slot \(s): stats \(String(describing: taskStats)), pc \(String(describing: task?.pc))"))
          return stats
        }
      }
    }
    stats.staleWakes = model.counters.staleWakes
    stats.timersFired = model.counters.timersFired
    stats.midTurnChecks = model.midTurnChecks
    return stats
  }

  /// A script of 0 to 5 random steps for task `name`; `wake` steps name it or one of `others`.
  func randomScript(_ rng: inout SplitMix64, name: String, others: [String], waitLine: Int) -> [Step] {
    var steps: [Step] = []
    for _ in 0..<rng.below(6) {
      let roll = rng.below(100)
      switch roll {
      case 0..<18:
        // Mostly whole milliseconds, so deadlines often tie.
        let d: Duration =
          rng.chance(80) ? .milliseconds(Int64(rng.below(21))) : .nanoseconds(Int64(rng.below(20_000_000)))
        steps.append(.sleep(d))
      case 18..<25:
        steps.append(.sleepEither(.milliseconds(Int64(rng.below(21))), .milliseconds(Int64(rng.below(21)))))
      case 25..<35:
        let ds = (0...rng.below(3)).map { _ in Duration.milliseconds(Int64(rng.below(23)) - 2) }
        steps.append(.wakeAt(ds))
      case 35..<47:
        steps.append(.wait(Interrupt(waitLine)))
      case 47..<55:
        steps.append(.listen(Interrupt(Self.anyLines[rng.below(Self.anyLines.count)])))
      case 55..<67:
        steps.append(.yield(times: rng.below(4)))
      case 67..<77:
        steps.append(.idle)
      case 77..<87:
        let pick = rng.below(others.count + 1)
        steps.append(.wake(pick == others.count ? name : others[pick]))
      case 87..<95:
        steps.append(.raise(Interrupt(Self.anyLines[rng.below(Self.anyLines.count)])))
      default:
        steps.append(.stop)
      }
    }
    return steps
  }
}
