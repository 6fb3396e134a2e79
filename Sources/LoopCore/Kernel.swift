// The executor's bookkeeping, apart from the task values themselves: slot phases and
// generations, the ready queue, the timer queue, the interrupt lines and the platform.
// Tasks reach it during a poll through `Context`; nothing else touches it.
//
// A slot's life (the arrows name the function that moves it):
//
//            spawn                 pop (run loop)             poll → .ready
//   free ───────────▶ queued ───────────────────▶ running ────────────────────▶ free
//                       ▲  ▲                       │   │                    (generation += 1)
//                       │  │ poll → .pending,      │   │ wake (while running)
//                       │  │ woken while running   │   ▼
//                       │  └────────────────── runningWoken
//                  wake │                          │
//                       │        poll → .pending   │
//                      idle ◀──────────────────────┘ (from running)
//
// `cancel` moves any non-free slot to free. A waker whose generation differs from the
// slot's is stale and is ignored by `wake`.
//
// An interrupt line is a latch and one handler (a waker):
//
//            raise: latch set; the handler, if any, is woken and unregistered
//   line ───────────────────────────────────────────────────────────────────▶ pending
//            take: the taker becomes the handler (the one it replaces is woken),
//                  then the latch is consumed (true) or was clear (false)
//
// `take` registers even when it consumes the latch, so a task that takes a line on every poll
// is woken by every later raise. A handler that no longer cares gets one spurious wake.
//
// One handler per line, by design (an interrupt vector has one): a second task taking the line
// replaces the first and wakes it, so two tasks that both keep waiting on one line wake each
// other forever. A debug build traps once they have taken turns `WakerRegistration.bounceLimit`
// times with no raise in between (the same check as a `Signal`'s); a release build spins.
// Sources are not limited: several fds, triggers or signals may raise one line.
//
// A task's joiner (`Context.join`) is one `WakerRegistration` per slot, woken when the slot is
// freed; a join names the task by its waker, so a slot freed and reused by a new task is not the
// task the join waits for (the generation differs: the join is ready).

/// What a task slot is doing now; see the diagram in Kernel.swift.
enum SlotPhase: UInt8 {
  case free, idle, queued, running, runningWoken
}

/// Per-task counters the executor keeps for the summary a firmware prints.
public struct TaskStats: Equatable, Sendable {
  /// Times the task was polled.
  public var polls: UInt64 = 0
  /// Wakes that made the task ready (coalesced wakes of an already-ready task not counted).
  public var wakes: UInt64 = 0
  /// The longest single poll, when the executor measures poll time.
  public var longestPoll: Duration = .zero

  /// Zeroed counters.
  public init() {}
}

/// Executor-wide counters.
public struct ExecutorCounters: Equatable, Sendable {
  /// Wakes aimed at a finished or reused slot, ignored.
  public var staleWakes: UInt64 = 0
  /// Calls into `Platform.wait`.
  public var platformWaits: UInt64 = 0
  /// Timer deadlines that fired.
  public var timersFired: UInt64 = 0
  /// Interrupt lines raised.
  public var interruptsRaised: UInt64 = 0

  /// Zeroed counters.
  public init() {}
}

/// The task slots' state as one array per field: each field of slot `s` is at its array's base
/// plus `s` times the field's size, which x86-64 and arm64 addressing modes compute for free.
/// An array of 32- to 56-byte records took a multiply or a shift (and a register to hold the
/// record's address) per access: W1 8 instructions per hop more (94.2 against 86.2).
struct SlotTable<let count: Int> {
  /// What each slot is doing (the diagram above).
  var phase = InlineArray<count, SlotPhase>(repeating: .free)
  /// False guarantees that `deadline` and `requested` are both `.distantFuture`, so the end of
  /// a poll skips `settleTimer` with one byte compare (a task that uses no timer: W1). Set by
  /// `schedule`; cleared by `release` and by a settle that finds neither (true with neither
  /// only costs that settle its comparison).
  var usesTimer = InlineArray<count, Bool>(repeating: false)
  /// Each slot's current waker: the slot's index and its generation, which moves on each time
  /// its task finishes. A wake checks a waker with one 8-byte compare; a poll loads its
  /// context's waker in one load.
  var waker = InlineArray<count, Waker> { Waker(slot: UInt16(truncatingIfNeeded: $0), generation: 0) }
  /// Wakes that made the task ready (`TaskStats.wakes`).
  var wakes = InlineArray<count, UInt64>(repeating: 0)
  /// The armed deadline, `.distantFuture` when none.
  var deadline = InlineArray<count, Instant>(repeating: .distantFuture)
  /// The earliest deadline the current poll asked for (`.distantFuture`: none yet). It replaces
  /// `deadline` when the poll ends, so only the poll's outcome moves the slot in the queue.
  var requested = InlineArray<count, Instant>(repeating: .distantFuture)
  /// The task's longest poll (`TaskStats.longestPoll`), kept when polls are timed.
  var longestPoll = InlineArray<count, Duration>(repeating: .zero)
}

/// The operations a task can ask of the executor while it is polled (through `Context`).
///
/// The executor's kernel is the one conforming type; tasks name it only as the generic `S` of
/// `poll<S: Scheduler & ~Copyable>`. A task that spawns writes `S: Scheduler<Self> & ~Copyable`
/// (or `where S.Body == MyTasks` in a helper), so `Context.spawn` takes its own type.
public protocol Scheduler<Body>: ~Copyable {
  /// The executor's task type (its `Body`), the type `spawn` takes.
  associatedtype Body
  /// The platform's current time.
  mutating func now() -> Instant
  /// The waker of the task in `slot`, the slot being polled (`Context.waker`).
  mutating func waker(ofPolledSlot slot: Int) -> Waker
  /// Makes the task named by `waker` ready (ignored if stale).
  mutating func wake(_ waker: Waker)
  /// Asks for the running task to be woken at `deadline`; the earliest of a poll's requests is
  /// armed when the poll ends. Throws when the task holds no timer and the queue is full.
  mutating func schedule(_ waker: Waker, at deadline: Instant) throws(CapacityError)
  /// Registers `waker` as `line`'s handler (waking the one it replaces), then consumes the
  /// line if it was pending (true) or returns false.
  mutating func take(_ line: Interrupt, waker: Waker) -> Bool
  /// Marks `line` pending and wakes its handler.
  mutating func raise(_ line: Interrupt)
  /// Asks the run loop to return after the current turn.
  mutating func requestStop()
  /// Puts `body` in the lowest free task slot of `tasks` (the executor's task storage, which
  /// the polled task's `Context` passes), queued to be polled; throws `.taskSlots` when every
  /// slot is in use.
  mutating func spawn(_ body: Body, into tasks: UnsafeMutableRawPointer) throws(CapacityError) -> Waker
  /// True when the task named by `task` has finished (its slot is free or holds a newer task);
  /// otherwise registers `waker` as its one joiner (waking the one it replaces) and returns false.
  mutating func join(_ task: Waker, waker: Waker) -> Bool
}

/// The executor state other than task values. Generic over capacities and the platform.
///
/// `@usableFromInline` (the type and its `Scheduler` witnesses) so that cross-module
/// optimisation can serialise their bodies: otherwise a task's module calls the unspecialised
/// generic kernel through `Context`, which looks up InlineArray metadata at run time on every
/// wake (sensorloop-bench W1; figures in the commit that added this).
@usableFromInline
struct Kernel<let slots: Int, let timers: Int, P: Platform & ~Copyable>: ~Copyable {
  // The fields the run loop and a wake touch come first, so that their offsets from the
  // executor's address fit in the one-byte displacement of an x86-64 load or store: each such
  // access is 3 bytes shorter than with a 4-byte displacement, and the front end fetches fewer
  // bytes per hop (W1: 329 bytes of instructions per hop against 393, and 5% less time). On
  // arm64 every instruction is 4 bytes and reaches either offset. The platform, large (the
  // epoll platform is over 500 bytes), comes last.
  var ready = ReadyQueue<slots>()
  /// While the run loop polls (`Executor.pollReady`): polls left before the next platform
  /// check, less the turn being polled, so that the end of a turn tests one memory word for
  /// both the platform check and a stop. `requestStop` saves it in `budgetAtStop` and sets it
  /// to 0 (the turn's remaining polls take it below), which sends the end of the turn to the
  /// run loop's slow path; that path adds the two back together. Meaningless outside a
  /// `pollReady`, which sets it on entry.
  var budget = 0
  /// While the run loop polls: the current turn's polls still to come, counted down in place.
  /// In the kernel rather than the executor: there the optimiser kept it in a register across
  /// the task's poll, spilled to the stack and reloaded on every poll.
  var turnLeft = 0
  var stopRequested = false
  var slot = SlotTable<slots>()
  /// Slots in use (spawned and not finished).
  var live = 0
  /// `budget` when the first stop request since the last was consumed arrived.
  var budgetAtStop = 0
  var timerQueue = TimerQueue<timers>()
  var pending = InterruptSet()
  var handlers = InterruptSet()
  /// Each slot's joiner: the task waiting for it to finish (`join`).
  var joiners = InlineArray<slots, WakerRegistration>(repeating: WakerRegistration())
  var handler = InlineArray<64, Waker>(repeating: Waker(slot: 0, generation: 0))
  var counters = ExecutorCounters()
  @usableFromInline var platform: P
  #if DEBUG
    /// Per line: the handler the latest `take` replaced, and how many takes in a row gave the
    /// line back to the task replaced just before (two tasks waiting on one line).
    var lineBounces = InlineArray<64, LineBounce>(repeating: LineBounce())
  #endif

  init(platform: consuming P) {
    self.platform = platform
  }

  /// The counters of the task in slot `s`, with `polls` derived from its wakes: a task is
  /// polled once on spawn and once after each wake that made it ready (the wakes counted), less
  /// the one poll still to come while it is queued or was woken during its poll. So the run
  /// loop does not count polls (one read-modify-write fewer per poll).
  func stats(_ s: Int) -> TaskStats {
    var stats = TaskStats()
    let pending: UInt64 = slot.phase[s] == .queued || slot.phase[s] == .runningWoken ? 1 : 0
    stats.polls = 1 &+ slot.wakes[s] &- pending
    stats.wakes = slot.wakes[s]
    stats.longestPoll = slot.longestPoll[s]
    return stats
  }

  func isCurrent(_ waker: Waker) -> Bool {
    let s = Int(waker.slot)
    return s < slots && slot.waker[s] == waker && slot.phase[s] != .free
  }

  /// `isCurrent` for the kernel's own mutating paths (wake, schedule). `mutating` although it
  /// only reads: from a mutating method, a call to the non-mutating `isCurrent` copied the
  /// whole kernel (its InlineArrays, hundreds of bytes) to the stack on every wake in release
  /// builds (a memcpy per call; figures in the commit that added this).
  mutating func ownsSlot(_ waker: Waker) -> Bool {
    let s = Int(waker.slot)
    return s < slots && slot.waker[s] == waker && slot.phase[s] != .free
  }

  /// Takes the lowest free slot: queued, counters zeroed, counted live. The caller stores the
  /// task value. Throws `.taskSlots` when every slot is in use.
  mutating func reserve() throws(CapacityError) -> Int {
    var s = 0
    while s < slots && slot.phase[s] != .free { s += 1 }
    if s == slots { throw .taskSlots }
    slot.phase[s] = .queued
    slot.wakes[s] = 0
    slot.longestPoll[s] = .zero
    ready.push(UInt16(s))
    live += 1
    return s
  }

  /// Ends slot `s`'s bookkeeping (the executor drops the task value): its timer disarmed, its
  /// joiner woken, its generation moved on so every waker and join of the old task is stale.
  mutating func release(_ s: Int) {
    disarm(s)
    slot.requested[s] = .distantFuture
    slot.usesTimer[s] = false
    slot.phase[s] = .free
    slot.waker[s] = Waker(slot: UInt16(truncatingIfNeeded: s), generation: slot.waker[s].generation &+ 1)
    live -= 1
    if let joiner = joiners[s].take() { wake(joiner) }
  }

  /// Removes a slot's armed deadline, if any.
  mutating func disarm(_ s: Int) {
    if slot.deadline[s] != .distantFuture {
      timerQueue.remove(slot: UInt16(s))
      slot.deadline[s] = .distantFuture
    }
  }

  /// Ends a poll's deadline requests: the slot keeps the earliest one it asked for (in its old
  /// place among equal deadlines when unchanged), or none when it asked for none.
  ///
  /// A slot that never asked for a deadline (`usesTimer` false) costs one byte compare; the
  /// rest is `settleRequested`, out of line.
  ///
  /// `s` must be below `slots` (the run loop's polled slot): the flag is read unchecked.
  @inline(__always)
  mutating func settleTimer(_ s: Int) {
    // SAFETY: s < slots, the caller's promise (`Executor.poll(slot:timed:_:)`).
    if _fastPath(unsafe !slot.usesTimer[unchecked: s]) { return }
    settleRequested(s)
  }

  /// `settleTimer` for a slot that asked for a deadline. `requested` is `.distantFuture` outside
  /// a poll (this resets it, and so does a slot's `free`), so an unchanged deadline costs one
  /// comparison. Not inlined: inlined in the run loop, the comparison's registers and constants
  /// cost W1 4 instructions per hop (99.2 against 95.2), the move 6 before that; W3, which
  /// takes it on every tick, pays one call.
  @inline(never)
  mutating func settleRequested(_ s: Int) {
    let requested = slot.requested[s]
    if requested == slot.deadline[s] {
      slot.requested[s] = .distantFuture
      slot.usesTimer[s] = requested != .distantFuture
      return
    }
    slot.requested[s] = .distantFuture
    disarm(s)
    if requested == .distantFuture { return }
    do throws(CapacityError) {
      try timerQueue.insert(requested, slot: UInt16(s))
    } catch {
      preconditionFailure("Kernel.settleTimer: queue full although schedule found room")
    }
    slot.deadline[s] = requested
  }

  /// Wakes every task whose deadline is due at `now`.
  mutating func fireTimers(at now: Instant) {
    while let entry = timerQueue.popDue(at: now) {
      let s = Int(entry.slot)
      slot.deadline[s] = .distantFuture
      counters.timersFired += 1
      // The entry's task is current: `release` removes a finished task's entry. So the slot
      // needs no generation check, only the phase `wake` would check.
      if slot.phase[s] == .idle {
        slot.phase[s] = .queued
        slot.wakes[s] &+= 1
        ready.push(entry.slot)
      } else {
        wakeOther(slot.waker[s])
      }
    }
  }

  /// Raises every line in `lines`.
  mutating func raiseAll(_ lines: InterruptSet) {
    var lines = lines
    while let line = lines.popFirst() { raise(line) }
  }

  /// One call into the platform: wait as `limit` allows, then deliver interrupts and timers.
  mutating func waitAndDispatch(_ limit: WaitLimit) {
    var raised = InterruptSet()
    counters.platformWaits += 1
    platform.wait(limit, raised: &raised)
    raiseAll(raised)
    if timerQueue.earliest != nil { fireTimers(at: platform.now()) }
  }
}

extension Kernel where P: ~Copyable {
  @usableFromInline mutating func now() -> Instant { platform.now() }

  @usableFromInline mutating func wake(_ waker: Waker) {
    // The common case inline: a current waker of an idle task, one bounds, one generation and
    // one phase compare. Every other case is `wakeOther`, out of line, so the wake inlined into
    // every task that signals stays small enough for the optimiser to inline that task's poll
    // into the run loop (W1: 130.7 instructions per hop with the poll called, 104.2 inlined).
    let s = Int(waker.slot)
    if _fastPath(s < slots && slot.waker[s] == waker && slot.phase[s] == .idle) {
      slot.phase[s] = .queued
      slot.wakes[s] &+= 1
      ready.push(waker.slot)
      return
    }
    wakeOther(waker)
  }

  /// `wake` of a waker that is stale or whose task is not idle.
  @inline(never)
  mutating func wakeOther(_ waker: Waker) {
    let s = Int(waker.slot)
    guard s < slots, slot.waker[s] == waker else {
      counters.staleWakes &+= 1
      return
    }
    switch slot.phase[s] {
    case .idle:
      slot.phase[s] = .queued
      slot.wakes[s] &+= 1
      ready.push(waker.slot)
    case .running:
      slot.phase[s] = .runningWoken
      slot.wakes[s] &+= 1
    case .free:
      // A waker of a generation never spawned.
      counters.staleWakes &+= 1
    case .queued, .runningWoken:
      // Already going to be polled.
      break
    }
  }

  @usableFromInline mutating func schedule(_ waker: Waker, at deadline: Instant) throws(CapacityError) {
    guard ownsSlot(waker), deadline != .distantFuture else { return }
    let s = Int(waker.slot)
    // A slot that holds an entry, or was promised room earlier in this poll, needs no more:
    // nothing else touches the queue during a poll, so `settleTimer` will find the room.
    if slot.deadline[s] == .distantFuture && slot.requested[s] == .distantFuture
      && timerQueue.isFull
    {
      throw .timerQueue
    }
    if deadline < slot.requested[s] {
      slot.requested[s] = deadline
      slot.usesTimer[s] = true
    }
  }

  @usableFromInline mutating func take(_ line: Interrupt, waker: Waker) -> Bool {
    if handlers.contains(line) && handler[line.number] != waker {
      // One handler per line: the one replaced is woken so it can notice.
      #if DEBUG
        lineBounces[line.number].replace(handler[line.number], by: waker, line: line)
      #endif
      wake(handler[line.number])
    }
    // Registered whether or not the line was pending: a task that consumed a raise must still
    // hear the next one. Taking without registering lost every raise after the first (only
    // the first SIGUSR1 printed a summary); a spurious wake is cheap, a lost one is not.
    handler[line.number] = waker
    handlers.insert(line)
    return pending.remove(line)
  }

  @usableFromInline mutating func raise(_ line: Interrupt) {
    #if DEBUG
      lineBounces[line.number].count = 0
    #endif
    counters.interruptsRaised += 1
    pending.insert(line)
    if handlers.remove(line) { wake(handler[line.number]) }
  }

  @usableFromInline mutating func requestStop() {
    if stopRequested { return }
    stopRequested = true
    budgetAtStop = budget
    budget = 0
  }

  /// `tasks` is the executor's task values (`InlineArray<slots, Body?>`), which the polled
  /// task's context holds: untyped so that the kernel is not generic over the task type
  /// (executors of different task types share its specialisations; a kernel generic over the
  /// task type cost W2 and W3 about 24 instructions per wake, in LLVM-merged copies). Passed by
  /// the context rather than stored in the kernel before each poll: one store fewer per poll.
  @usableFromInline mutating func spawn<Body>(_ body: Body, into tasks: UnsafeMutableRawPointer)
    throws(CapacityError) -> Waker
  {
    let s = try reserve()
    // SAFETY: `tasks` is the executor's `InlineArray<slots, Body?>`, lent to the context of the
    // poll that calls this; slot `s` was free, so no other access (the polled task is another
    // slot) touches its element.
    unsafe tasks.assumingMemoryBound(to: Body?.self)[s] = body
    return slot.waker[s]
  }

  @usableFromInline mutating func join(_ task: Waker, waker: Waker) -> Bool {
    guard ownsSlot(task) else { return true }
    precondition(task != waker, "Context.join: a task waits for itself, forever")
    if let replaced = joiners[Int(task.slot)].replace(with: waker) { wake(replaced) }
    return false
  }
}

/// The kernel as the `Scheduler` a task's `Context` reaches: the same kernel, typed with the
/// executor's task type for `spawn`. One stored property, so it is laid out as the kernel;
/// every witness forwards to the kernel's method of the same name.
@usableFromInline
struct TaskKernel<let slots: Int, let timers: Int, Body, P: Platform & ~Copyable>: ~Copyable {
  @usableFromInline var kernel: Kernel<slots, timers, P>

  init(platform: consuming P) { kernel = Kernel(platform: platform) }
}

extension TaskKernel: Scheduler where P: ~Copyable {
  @usableFromInline mutating func now() -> Instant { kernel.now() }
  @usableFromInline mutating func waker(ofPolledSlot slot: Int) -> Waker {
    // SAFETY: only `Context` calls this, with the slot `Executor.poll(slot:timed:_:)` polls,
    // which is below `slots`.
    unsafe kernel.slot.waker[unchecked: slot]
  }
  @usableFromInline mutating func wake(_ waker: Waker) { kernel.wake(waker) }
  @usableFromInline mutating func schedule(_ waker: Waker, at deadline: Instant) throws(CapacityError) {
    try kernel.schedule(waker, at: deadline)
  }
  @usableFromInline mutating func take(_ line: Interrupt, waker: Waker) -> Bool {
    kernel.take(line, waker: waker)
  }
  @usableFromInline mutating func raise(_ line: Interrupt) { kernel.raise(line) }
  @usableFromInline mutating func requestStop() { kernel.requestStop() }
  @usableFromInline mutating func spawn(_ body: Body, into tasks: UnsafeMutableRawPointer)
    throws(CapacityError) -> Waker
  {
    try kernel.spawn(body, into: tasks)
  }
  @usableFromInline mutating func join(_ task: Waker, waker: Waker) -> Bool {
    kernel.join(task, waker: waker)
  }
}

#if DEBUG
  /// Two tasks taking turns as one interrupt line's handler (see the diagram's notes above).
  struct LineBounce {
    var replaced = Waker(slot: .max, generation: 0)
    var count: UInt32 = 0

    /// `old` was the handler and `new` replaces it: traps once the two have swapped
    /// `WakerRegistration.bounceLimit` times in a row with no raise in between.
    mutating func replace(_ old: Waker, by new: Waker, line: Interrupt) {
      count = new == replaced ? count &+ 1 : 0
      replaced = old
      precondition(
        count < WakerRegistration.bounceLimit,
        "Context.take/wait(for:): two tasks wait on one interrupt line and wake each other forever; give each its own line"
      )
    }
  }
#endif
