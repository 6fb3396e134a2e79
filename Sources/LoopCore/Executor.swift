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
  mutating func poll<S: Scheduler & ~Copyable>(_ cx: inout Context<S>, _ world: inout World)
    -> Poll<Void>
}

/// Why `Executor.run` returned.
public enum RunEnd: Equatable, Sendable {
  /// A task or the owner asked to stop.
  case stopped
  /// Every task finished: no slot is in use.
  case allTasksFinished
}

/// A single-threaded executor with `slots` task slots and room for `timers` deadlines.
public struct Executor<let slots: Int, let timers: Int, Body: TaskBody, P: Platform & ~Copyable>:
  ~Copyable
{
  private var tasks = InlineArray<slots, Body?>(repeating: nil)
  private var kernel: Kernel<slots, timers, P>
  private var live = 0
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
    kernel = Kernel(platform: platform)
  }

  /// The platform, for its owner (tests advance a virtual clock through it).
  public var platform: P {
    _read { yield kernel.platform }
    _modify { yield &kernel.platform }
  }

  /// Tasks in use (spawned and not finished).
  public var liveTasks: Int { live }

  /// Executor-wide counters.
  public var counters: ExecutorCounters { kernel.counters }

  /// The earliest armed deadline, if any.
  public var nextDeadline: Instant? { kernel.timerQueue.earliest }

  /// Armed deadlines.
  public var armedTimers: Int { kernel.timerQueue.count }

  /// Puts `body` in the lowest free slot, ready to be polled. Throws `.taskSlots` when full.
  @discardableResult
  public mutating func spawn(_ body: Body) throws(CapacityError) -> Waker {
    var s = 0
    while s < slots && kernel.slot[s].phase != .free { s += 1 }
    if s == slots { throw .taskSlots }
    tasks[s] = body
    kernel.slot[s].phase = .queued
    kernel.slot[s].stats = TaskStats()
    kernel.ready.push(UInt16(s))
    live += 1
    return Waker(slot: UInt16(s), generation: kernel.slot[s].generation)
  }

  /// Ends the task named by `waker` without polling it again; false when it is stale.
  @discardableResult
  public mutating func cancel(_ waker: Waker) -> Bool {
    guard kernel.isCurrent(waker) else { return false }
    let s = Int(waker.slot)
    if kernel.slot[s].phase == .queued { kernel.ready.remove(waker.slot) }
    precondition(kernel.slot[s].phase != .running, "Executor.cancel: task is being polled")
    free(s)
    return true
  }

  /// Makes the task named by `waker` ready; a stale waker is ignored.
  public mutating func wake(_ waker: Waker) { kernel.wake(waker) }

  /// Raises interrupt `line` from outside any task.
  public mutating func raise(_ line: Interrupt) { kernel.raise(line) }

  /// Makes `run` return after the current turn.
  public mutating func stop() { kernel.stopRequested = true }

  /// The task in `waker`'s slot, if it is still that task.
  public func task(_ waker: Waker) -> Body? { kernel.isCurrent(waker) ? tasks[Int(waker.slot)] : nil }

  /// The counters of the task named by `waker`, if it is still running.
  public func stats(_ waker: Waker) -> TaskStats? {
    kernel.isCurrent(waker) ? kernel.slot[Int(waker.slot)].stats : nil
  }

  /// The waker of the task in `slot`, if one is there.
  public func waker(slot: Int) -> Waker? {
    guard slot < slots, kernel.slot[slot].phase != .free else { return nil }
    return Waker(slot: UInt16(slot), generation: kernel.slot[slot].generation)
  }

  /// Runs until a stop is asked for or no task is left, blocking in the platform when idle.
  ///
  /// Each stop request (`stop()`, `cx.stopExecutor()`) ends one call, even one made before it.
  public mutating func run(_ world: inout Body.World) -> RunEnd {
    while true {
      pollReady(&world)
      if kernel.stopRequested {
        kernel.stopRequested = false
        return .stopped
      }
      if live == 0 { return .allTasksFinished }
      if let deadline = kernel.timerQueue.earliest {
        kernel.waitAndDispatch(.deadline(deadline))
      } else {
        kernel.waitAndDispatch(.forever)
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
    while !kernel.stopRequested {
      kernel.waitAndDispatch(.poll)
      pollsSinceCheck = 0
      if kernel.ready.isEmpty { break }
      polls += pollReady(&world)
    }
    kernel.stopRequested = false
    return polls
  }

  /// Polls ready tasks in turns until none is ready or a stop is asked for. A turn polls the
  /// tasks that were ready when it began; tasks woken meanwhile wait for the next turn.
  ///
  /// The hot loop of the executor (sensorloop-bench W1 counts its instructions): a turn's polls
  /// are counted once per turn, the count since the last platform check lives in a register
  /// until the loop ends, and `poll(slot:)` is inlined here.
  @discardableResult
  private mutating func pollReady(_ world: inout Body.World) -> Int {
    // Polls left before the next platform check: one count down per turn, instead of a count
    // up and a difference (fewer values live across the task's poll, fewer stack spills).
    var untilCheck = pollsPerPlatformCheck &- pollsSinceCheck
    // The polls made are `polls - untilCheck`: only a reset of `untilCheck` adds to `polls`, so
    // a turn updates one counter, not two.
    var polls = untilCheck
    while !kernel.stopRequested {
      var turn = kernel.ready.count
      if turn == 0 { break }
      untilCheck &-= turn
      // Nothing removes a queued slot during a poll (only `cancel` does, and no task can reach
      // it), so the turn pops exactly `turn` slots.
      repeat {
        poll(slot: Int(kernel.ready.popNonEmpty()), &world)
        turn &-= 1
      } while turn > 0
      if untilCheck <= 0 {
        polls &+= pollsPerPlatformCheck &- untilCheck
        untilCheck = pollsPerPlatformCheck
        kernel.waitAndDispatch(.poll)
      }
    }
    pollsSinceCheck = pollsPerPlatformCheck &- untilCheck
    return polls &- untilCheck
  }

  @inline(__always)
  private mutating func poll(slot s: Int, _ world: inout Body.World) {
    // Slots in the ready queue are below `slots` (spawn and wake check before they push).
    precondition(s < slots, "Executor.poll: slot out of range")
    kernel.slot[s].phase = .running
    kernel.slot[s].stats.polls &+= 1
    let result = measuresPollTime ? pollTimed(slot: s, &world) : pollTask(slot: s, &world)
    if result.isReady {
      free(s)
      return
    }
    kernel.settleTimer(s)
    if kernel.slot[s].phase == .runningWoken {
      kernel.slot[s].phase = .queued
      kernel.ready.push(UInt16(truncatingIfNeeded: s))
    } else {
      kernel.slot[s].phase = .idle
    }
  }

  /// `pollTask` between two clock reads, for `TaskStats.longestPoll`. Not inlined: the clock
  /// read (a `timespec` on the stack) would give the hot loop a stack protector.
  @inline(never)
  private mutating func pollTimed(slot s: Int, _ world: inout Body.World) -> Poll<Void> {
    let start = kernel.platform.now()
    let result = pollTask(slot: s, &world)
    let took = kernel.platform.now() - start
    if took > kernel.slot[s].stats.longestPoll { kernel.slot[s].stats.longestPoll = took }
    return result
  }

  @inline(__always)
  private mutating func pollTask(slot s: Int, _ world: inout Body.World) -> Poll<Void> {
    let waker = Waker(slot: UInt16(truncatingIfNeeded: s), generation: kernel.slot[s].generation)
    return Self.poll(&tasks[s], waker: waker, &kernel, &world)
  }

  /// Polls one task value with a context lent the kernel. Static so that the task and the
  /// kernel are two separate exclusive accesses.
  private static func poll(
    _ task: inout Body?, waker: Waker, _ kernel: inout Kernel<slots, timers, P>,
    _ world: inout Body.World
  ) -> Poll<Void> {
    withUnsafeMutablePointer(to: &kernel) { pointer in
      // SAFETY: `pointer` lives for this closure only; the context is dropped before it ends.
      var cx = Context(pointer, waker: waker)
      return task!.poll(&cx, &world)
    }
  }

  private mutating func free(_ s: Int) {
    tasks[s] = nil
    kernel.disarm(s)
    kernel.slot[s].requested = .distantFuture
    kernel.slot[s].phase = .free
    kernel.slot[s].generation &+= 1
    live -= 1
  }
}
