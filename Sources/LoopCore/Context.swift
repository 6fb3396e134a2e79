// What a task holds while it is polled: its own waker and a way to ask the executor for
// time, timers, interrupts and wakes. A Context is valid only during the poll it was given to.

/// The running task's view of the executor, passed `inout` to every poll.
///
/// Building blocks (`Ticker`, `Signal`, `Channel`, ...) take it to register the task's waker.
/// Never store it: it points into the executor for the duration of one poll.
///
/// Every call returns at once: nothing here blocks or allocates.
public struct Context<S: Scheduler & ~Copyable> {
  // SAFETY: points at the executor's kernel, which `Executor.poll(slot:)` keeps alive and
  // exclusively lends to this context for the duration of one poll.
  private let scheduler: UnsafeMutablePointer<S>
  /// The polled task's slot (below the executor's slot count).
  private let slot: Int
  /// The executor's task values, for `spawn` (valid for the poll, as `scheduler`).
  private let tasks: UnsafeMutableRawPointer

  /// The waker of the task being polled.
  ///
  /// Read from the executor when asked for, not held: the run loop keeps the slot index for
  /// itself, and a waker held here as well was one more value spilled to the stack and
  /// reloaded on every poll (W1: 2 instructions per hop, W3 2 per tick).
  public var waker: Waker { scheduler.pointee.waker(ofPolledSlot: slot) }

  init(_ scheduler: UnsafeMutablePointer<S>, slot: Int, tasks: UnsafeMutableRawPointer) {
    self.scheduler = scheduler
    self.slot = slot
    self.tasks = tasks
  }

  /// The current time on the platform's monotonic clock.
  public var now: Instant { scheduler.pointee.now() }

  /// Makes the task named by `waker` ready; a stale waker is ignored.
  public func wake(_ waker: Waker) { scheduler.pointee.wake(waker) }

  /// Asks to be polled again as soon as the other ready tasks have had their turn.
  public func yieldNow() { scheduler.pointee.wake(waker) }

  /// Asks to be polled at `deadline` (or soon after).
  ///
  /// A task holds at most one deadline: the earliest requested during a poll. A deadline not
  /// asked for again in the next poll is dropped, so each poll states what it still waits for.
  /// Throws `.timerQueue` when the timer queue is full.
  public func wake(at deadline: Instant) throws(CapacityError) {
    try scheduler.pointee.schedule(waker, at: deadline)
  }

  /// Ready once `deadline` has passed; otherwise arms the task's timer and returns `.pending`.
  public func sleep(until deadline: Instant) throws(CapacityError) -> Poll<Void> {
    if now >= deadline { return .ready(()) }
    try wake(at: deadline)
    return .pending
  }

  /// Makes this task `line`'s handler, woken by its next raise, and consumes the line if it
  /// was pending (true).
  ///
  /// The task stays the handler either way, so a task that takes a line on every poll never
  /// misses a raise; a task that stops caring may get one spurious wake. One handler per line:
  /// two tasks that keep taking one line wake each other forever, which a debug build traps
  /// (`WakerRegistration.bounceLimit` turns with no raise between); give each its own line.
  public func take(_ line: Interrupt) -> Bool { scheduler.pointee.take(line, waker: waker) }

  /// `.ready` when `line` was pending (and consumes it); otherwise `.pending`. Either way the
  /// task is woken by the line's next raise.
  public func wait(for line: Interrupt) -> Poll<Void> { take(line) ? .ready(()) : .pending }

  /// Raises `line` in software, as the platform would.
  public func raise(_ line: Interrupt) { scheduler.pointee.raise(line) }

  /// Asks the run loop to return once the current turn is over.
  public func stopExecutor() { scheduler.pointee.requestStop() }

  /// Puts `task` in the lowest free slot of this executor, to be polled in its next turn, and
  /// returns its waker: the handle `join` waits on (tokio's `JoinHandle`, embassy's spawn).
  ///
  /// Throws `CapacityError.taskSlots` when every slot is in use: the slot count is the
  /// executor's type parameter; nothing grows. Never blocks or allocates. The task's poll must
  /// be declared `poll<S: Scheduler<Self> & ~Copyable>` for `S.Body` to be its own type.
  public func spawn(_ task: S.Body) throws(CapacityError) -> Waker {
    try scheduler.pointee.spawn(task, into: tasks)
  }

  /// `.ready` once the task named by `task` has finished (returned `.ready` or was cancelled);
  /// otherwise `.pending`, with this task registered to be woken when it does.
  ///
  /// Generation-safe: once that task has finished, its slot may hold a new task, and the join
  /// is still ready. One joiner per task, as one waiter per `Signal`: a second replaces (and
  /// wakes) the first, and two that keep joining one task trap in a debug build. A task
  /// cannot join itself (a trap). Never blocks or allocates.
  public func join(_ task: Waker) -> Poll<Void> {
    scheduler.pointee.join(task, waker: waker) ? .ready(()) : .pending
  }
}
