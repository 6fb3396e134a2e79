// The executor: a fixed number of task slots, polled in FIFO order when woken, blocking in the
// platform only when no task is ready. Tasks are values of one type `Body` (an enum of the
// application's tasks) stored inline: static dispatch, no existentials, no allocation.

/// A task the executor can run: a value polled until it returns `.ready`.
///
/// `World` is the application's shared state (GPIO lines, output buffer, ...), lent to every
/// poll; tasks that share nothing use `Void`. It may be `~Copyable`, so it can own file
/// descriptors, signals and channels.
public protocol TaskBody {
  /// State shared by all tasks of an executor, passed to every poll.
  associatedtype World: ~Copyable

  /// Advances the task. Return `.pending` after registering a waker (timer, interrupt,
  /// signal, ...) or `.ready(())` when finished, which frees the slot.
  ///
  /// Write it as `poll<S: Scheduler & ~Copyable>`; a task that spawns others writes
  /// `poll<S: Scheduler<Self> & ~Copyable>`, so `cx.spawn` takes this type.
  mutating func poll<S: Scheduler & ~Copyable>(_ cx: inout Context<S>, _ world: inout World)
    -> Poll<Void> where S.Body == Self
}

/// Why `Executor.run` returned.
public enum RunEnd: Equatable, Sendable {
  /// A task or the owner asked to stop.
  case stopped
  /// Every task finished: no slot is in use.
  case allTasksFinished
}

/// A single-threaded executor with `slots` task slots and room for `timers` deadlines.
///
/// Tasks are stored inline (`slots` values of `Body`); a full executor is
/// `CapacityError.taskSlots`, a full timer queue `.timerQueue`, never growth. Never allocates;
/// blocks only in `Platform.wait` when no task is ready (`run`), never in `runUntilStalled`.
/// Up to `Interrupt.capacity` (64) interrupt lines, one waiting task each.
public struct Executor<let slots: Int, let timers: Int, Body: TaskBody, P: Platform & ~Copyable>:
  ~Copyable
{
  // The kernel first: the run loop reaches its hot fields at small offsets (see `Kernel`).
  // `@usableFromInline` for the transparent `platform` accessor.
  @usableFromInline var core: TaskKernel<slots, timers, Body, P>
  private var tasks = InlineArray<slots, Body?>(repeating: nil)
  private var pollsSinceCheck = 0

  /// Polls after which the loop checks the platform (interrupts, timers) without blocking,
  /// even while tasks stay ready, so a busy task cannot starve I/O and timers. Counted from the
  /// last platform check of any kind: a wait when no task was ready also restarts the count.
  public var pollsPerPlatformCheck = 64

  /// Whether to time every poll (two clock reads each) for `TaskStats.longestPoll`.
  public var measuresPollTime = false

  /// An executor with every slot free, running on `platform`.
  public init(platform: consuming P) {
    precondition(slots > 0 && slots <= Int(UInt16.max), "Executor: slots out of range")
    core = TaskKernel(platform: platform)
  }

  /// The platform, for its owner (tests advance a virtual clock through it).
  ///
  /// Transparent: the platform follows the kernel's run-loop fields (`Kernel`), at an offset
  /// that unspecialised code (a debug build) reads from the kernel's type metadata, and the
  /// accessor's coroutine frame, with that metadata, outgrew its inline buffer and was
  /// allocated on the heap on every access. Inlined into the caller, it allocates nothing.
  public var platform: P {
    @_transparent _read { yield core.kernel.platform }
    @_transparent _modify { yield &core.kernel.platform }
  }

  /// Tasks in use (spawned and not finished).
  public var liveTasks: Int { core.kernel.live }

  /// Executor-wide counters.
  public var counters: ExecutorCounters { core.kernel.counters }

  /// The earliest armed deadline, if any.
  public var nextDeadline: Instant? { core.kernel.timerQueue.earliest }

  /// Armed deadlines.
  public var armedTimers: Int { core.kernel.timerQueue.count }

  /// Puts `body` in the lowest free slot, ready to be polled, and returns its waker (which also
  /// names it for `cancel`, `task`, `stats` and a task's `cx.join`). Throws `.taskSlots` when
  /// every slot is in use; never allocates. From inside a task, use `cx.spawn`.
  @discardableResult
  public mutating func spawn(_ body: Body) throws(CapacityError) -> Waker {
    let s = try core.kernel.reserve()
    tasks[s] = body
    return core.kernel.slot.waker[s]
  }

  /// Ends the task named by `waker` without polling it again; false when it is stale.
  @discardableResult
  public mutating func cancel(_ waker: Waker) -> Bool {
    guard core.kernel.isCurrent(waker) else { return false }
    let s = Int(waker.slot)
    if core.kernel.slot.phase[s] == .queued { core.kernel.ready.remove(waker.slot) }
    precondition(core.kernel.slot.phase[s] != .running, "Executor.cancel: task is being polled")
    free(s)
    return true
  }

  /// Makes the task named by `waker` ready; a stale waker is ignored.
  public mutating func wake(_ waker: Waker) { core.kernel.wake(waker) }

  /// Raises interrupt `line` from outside any task.
  public mutating func raise(_ line: Interrupt) { core.kernel.raise(line) }

  /// Makes `run` return after the current turn.
  public mutating func stop() { core.kernel.stopRequested = true }

  /// The task in `waker`'s slot, if it is still that task.
  public func task(_ waker: Waker) -> Body? { core.kernel.isCurrent(waker) ? tasks[Int(waker.slot)] : nil }

  /// The counters of the task named by `waker`, if it is still running.
  public func stats(_ waker: Waker) -> TaskStats? {
    core.kernel.isCurrent(waker) ? core.kernel.stats(Int(waker.slot)) : nil
  }

  /// The waker of the task in `slot`, if one is there.
  public func waker(slot: Int) -> Waker? {
    guard slot < slots, core.kernel.slot.phase[slot] != .free else { return nil }
    return core.kernel.slot.waker[slot]
  }

  /// Runs until a stop is asked for or no task is left, blocking in the platform when idle.
  ///
  /// Each stop request (`stop()`, `cx.stopExecutor()`) ends one call, even one made before it.
  public mutating func run(_ world: inout Body.World) -> RunEnd {
    // Whether polls are timed is read once per run, not per poll or per turn: each value has its
    // own copy of the loop (4 instructions fewer per W1 hop than a test per poll, 2 fewer per W2
    // wake and W3 tick than a test per `pollReady`). The timed copy calls the out-of-line
    // `pollTimed`, so it does not inline a second copy of the tasks' poll.
    measuresPollTime ? runTimed(&world) : runUntimed(&world)
  }

  /// `run` with timed polls. A function of its own, as `runUntimed`.
  @inline(never)
  private mutating func runTimed(_ world: inout Body.World) -> RunEnd { run(timed: true, &world) }

  /// `run` with untimed polls. A function of its own, with one copy of the loop: W1 measured 3
  /// instructions per hop fewer than with both copies inlined into `run` (104.2 against 107.2).
  @inline(never)
  private mutating func runUntimed(_ world: inout Body.World) -> RunEnd {
    run(timed: false, &world)
  }

  /// `run` with `measuresPollTime` as the constant `timed`.
  @inline(__always)
  private mutating func run(timed: Bool, _ world: inout Body.World) -> RunEnd {
    while true {
      pollReady(timed: timed, &world)
      if core.kernel.stopRequested {
        core.kernel.stopRequested = false
        return .stopped
      }
      if core.kernel.live == 0 { return .allTasksFinished }
      if let deadline = core.kernel.timerQueue.earliest {
        core.kernel.waitAndDispatch(.deadline(deadline))
      } else {
        core.kernel.waitAndDispatch(.forever)
      }
      // The platform was just checked: the next check is due `pollsPerPlatformCheck` polls on.
      pollsSinceCheck = 0
    }
  }

  /// Delivers what is due now (interrupts, timers) and polls until no task is ready, never
  /// blocking. Returns the number of polls. Tests drive a virtual clock with it.
  @discardableResult
  public mutating func runUntilStalled(_ world: inout Body.World) -> Int {
    var polls = 0
    while !core.kernel.stopRequested {
      core.kernel.waitAndDispatch(.poll)
      pollsSinceCheck = 0
      if core.kernel.ready.isEmpty { break }
      polls += measuresPollTime ? pollReady(timed: true, &world) : pollReady(timed: false, &world)
    }
    core.kernel.stopRequested = false
    return polls
  }

  /// Polls ready tasks in turns until none is ready or a stop is asked for. A turn polls the
  /// tasks that were ready when it began; tasks woken meanwhile wait for the next turn.
  ///
  /// The hot loop of the executor (sensorloop-bench W1 counts its instructions). Nothing but
  /// the executor and the world lives across a task's poll: the turn's remaining polls
  /// (`turnLeft`) and the polls left before the next platform check (`Kernel.budget`) are
  /// memory words, counted down in place, so no counter is spilled to the stack and reloaded
  /// around every poll. A turn ends with one test of `budget`, which `requestStop` also
  /// zeroes, so the stop check costs the turn nothing. `poll(slot:)` is inlined here.
  @discardableResult @inline(__always)
  private mutating func pollReady(timed: Bool, _ world: inout Body.World) -> Int {
    if core.kernel.stopRequested { return 0 }
    core.kernel.budget = pollsPerPlatformCheck &- pollsSinceCheck
    // The polls made are `polls - budget`: only a platform check (which resets `budget`) adds
    // to `polls`, so a turn updates one counter, not two.
    var polls = core.kernel.budget
    let first = core.kernel.ready.count
    if first != 0 {
      core.kernel.budget &-= first
      core.kernel.turnLeft = first
      // One loop, its head the pop: a turn's start is the previous turn's end. With a turn
      // loop around a poll loop, every one-task turn (W1's) ran through the 14 bytes of padding
      // that align the inner loop's head, and the pop reloaded the count just read.
      while true {
        // Nothing removes a queued slot during a poll (only `cancel` does, and no task can
        // reach it), so the turn pops exactly `turnLeft` slots.
        poll(slot: core.kernel.ready.popNonEmpty(), timed: timed, &world)
        core.kernel.turnLeft &-= 1
        if core.kernel.turnLeft != 0 { continue }
        if _slowPath(core.kernel.budget <= 0) {
          // A stop or a platform check is due (or both).
          let stopping = core.kernel.stopRequested
          if stopping { core.kernel.budget = core.kernel.budgetAtStop &+ core.kernel.budget }
          if core.kernel.budget <= 0 {
            polls &+= pollsPerPlatformCheck &- core.kernel.budget
            core.kernel.budget = pollsPerPlatformCheck
            core.kernel.waitAndDispatch(.poll)
          }
          if stopping { break }
        }
        let turn = core.kernel.ready.count
        if turn == 0 { break }
        core.kernel.budget &-= turn
        core.kernel.turnLeft = turn
      }
    }
    pollsSinceCheck = pollsPerPlatformCheck &- core.kernel.budget
    return polls &- core.kernel.budget
  }

  @inline(__always)
  private mutating func poll(slot s: Int, timed: Bool, _ world: inout Body.World) {
    // Slots in the ready queue are below `slots`: `reserve` pushes a slot it found below
    // `slots`, `wake` one that passed its bounds check, and this function the slot it polled.
    // So the accesses below skip the bounds checks (2 instructions per W1 hop): a debug build
    // still checks. With one slot the check stays: it tells the optimiser that `s` is 0, which
    // folds every slot address to a constant (W2's and W3's one-task executors).
    if slots == 1 {
      precondition(s == 0, "Executor.poll: slot out of range")
    } else {
      assert(s < slots, "Executor.poll: slot out of range")
    }
    // SAFETY: s < slots, as above.
    unsafe core.kernel.slot.phase[unchecked: s] = .running
    let result = timed ? pollTimed(slot: s, &world) : pollTask(slot: s, &world)
    if result.isReady {
      free(s)
      return
    }
    core.kernel.settleTimer(s)
    // The requeue out of line (`_slowPath`): the poll then falls through to the end of the
    // turn, and W1's loop takes one branch per turn instead of three (the optimiser had put
    // the `.idle` store at the loop's head, behind a jump from here).
    // SAFETY: s < slots, as above.
    if _slowPath(unsafe core.kernel.slot.phase[unchecked: s] == .runningWoken) {
      unsafe core.kernel.slot.phase[unchecked: s] = .queued
      core.kernel.ready.push(UInt16(truncatingIfNeeded: s))
    } else {
      unsafe core.kernel.slot.phase[unchecked: s] = .idle
    }
  }

  /// `pollTask` between two clock reads, for `TaskStats.longestPoll`. Not inlined: the clock
  /// read (a `timespec` on the stack) would give the hot loop a stack protector.
  @inline(never)
  private mutating func pollTimed(slot s: Int, _ world: inout Body.World) -> Poll<Void> {
    let start = core.kernel.platform.now()
    let result = pollTask(slot: s, &world)
    let took = core.kernel.platform.now() - start
    if took > core.kernel.slot.longestPoll[s] { core.kernel.slot.longestPoll[s] = took }
    return result
  }

  @inline(__always)
  private mutating func pollTask(slot s: Int, _ world: inout Body.World) -> Poll<Void> {
    Self.poll(&tasks, slot: s, &core, &world)
  }

  /// Polls the task in slot `s` with a context lent the kernel. Static so that the tasks and
  /// the kernel are two separate exclusive accesses. The context gets the tasks' storage for the
  /// poll, so that a `cx.spawn` can put a new task in a free slot (never the polled one).
  private static func poll(
    _ tasks: inout InlineArray<slots, Body?>, slot s: Int,
    _ core: inout TaskKernel<slots, timers, Body, P>, _ world: inout Body.World
  ) -> Poll<Void> {
    var span = tasks.mutableSpan
    return span.withUnsafeMutableBufferPointer { storage in
      withUnsafeMutablePointer(to: &core) { pointer in
        // SAFETY: `pointer` and `storage` live for these closures only; the context, which
        // holds both, is dropped before they end.
        var cx = unsafe Context(pointer, slot: s, tasks: UnsafeMutableRawPointer(storage.baseAddress!))
        // The task is polled in place as a `Body`, without the `!` that checked for `nil` on
        // every poll: a queued slot holds a task (`spawn` stores it, only `free` clears it, and
        // a freed slot leaves the queue), which a debug build still checks. An `Optional`'s
        // payload is at its offset 0 (a single-payload enum), so the element's memory is
        // rebound to `Body` for the call (one element: the two strides need not agree).
        let element = unsafe storage.baseAddress! + s
        assert(unsafe element.pointee != nil, "Executor.poll: a queued slot holds no task")
        return unsafe element.withMemoryRebound(to: Body.self, capacity: 1) { task in
          unsafe task.pointee.poll(&cx, &world)
        }
      }
    }
  }

  private mutating func free(_ s: Int) {
    tasks[s] = nil
    core.kernel.release(s)
  }
}
