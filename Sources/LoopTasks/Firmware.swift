// The firmware: an executor of `FirmwareTask`s over a platform, with its world, run until a
// signal, a task or `--duration` asks it to stop; its output flushed at the end. The summary it
// prints is in Summary.swift.

import LoopCore
import LoopGPIO
import LoopLinux

/// An executor with the firmware's task slots, its world and the record of what was spawned.
public struct Firmware<P: Platform & ~Copyable>: ~Copyable {
  /// Executor slots: configured tasks plus the program's own.
  public static var slots: Int { 40 }

  /// The executor.
  public var executor: Executor<40, 40, FirmwareTask, P>
  /// The tasks' shared state.
  public var world: FirmwareWorld
  /// When the firmware started (for rates in the summary).
  public let start: Instant
  /// The live tasks' wakers, for the summary (Summary.swift).
  var spawned = InlineArray<40, Waker?>(first: nil) { $0 }
  var spawnedCount = 0

  /// A firmware on `platform` with `world`, started at `start` (now when nil): the instant the
  /// tasks' grids and the stimuli's scripts count from.
  public init(platform: consuming P, world: consuming FirmwareWorld, start: Instant? = nil) {
    executor = Executor(platform: platform)
    executor.measuresPollTime = true
    self.world = world
    if let start { self.start = start } else { self.start = executor.platform.now() }
    self.world.due = InlineArray(first: self.start) { $0 }
  }

  /// Spawns `task`; throws `.taskSlots` past the capacity (the config checks prevent it).
  public mutating func spawn(_ task: FirmwareTask) throws(CapacityError) {
    let waker = try executor.spawn(task)
    // The entry of a task that has finished (a stop timer, a stimulus script) is reused: the
    // table holds the live tasks for the summary, however many were spawned over a long run.
    for i in 0..<spawnedCount {
      guard let old = spawned[i], case .none = executor.stats(old) else { continue }
      spawned[i] = waker
      return
    }
    spawned[spawnedCount] = waker
    spawnedCount += 1
  }

  /// Runs until a stop, summary or reload request; returns the requests (and clears the
  /// summary and reload ones).
  public mutating func runUntilRequest() -> ControlRequests {
    _ = executor.run(&world)
    return takeRequests()
  }

  /// The requests made so far (also by the tasks' first polls at startup, whose stop request
  /// `runUntilStalled` consumes); clears the summary and reload ones, keeps `shutdown`.
  public mutating func takeRequests() -> ControlRequests {
    let requests = world.control
    world.control.summary = false
    world.control.reload = false
    return requests
  }

  /// Writes whatever the output ring holds to the output fd, waiting for room at most `limit`
  /// in all (at shutdown the loop no longer runs: a slow reader should still get the tail, but
  /// a reader that never reads must not keep the program from exiting; what is left is
  /// reported as unwritten). Leaves the fd in blocking mode, as it was before the program
  /// (stdout may share its file with the summary's stderr). Returns the last write's outcome,
  /// nil when nothing was waiting.
  public mutating func flushOutput(within limit: Duration = .milliseconds(500)) -> OutputWriter.Outcome? {
    let fd = BorrowedFileDescriptor(world.outputFD)
    let deadline = monotonicNow() + limit
    var last: OutputWriter.Outcome? = nil
    var room = WritableWaiter()
    // A regular file's chunk still with the worker goes first (the order of the bytes); if it
    // does not finish in time, the rest would land after a gap: it is left unwritten.
    if !OutputWriter.settleWorkerWrite(&world, until: deadline) { return nil }
    while !world.output.isEmpty {
      last = OutputWriter.drainOnce(&world)
      if last == .wrote(0) { break }
      if last == .wouldBlock && !room.wait(for: fd, until: deadline) { break }
    }
    try? fd.setNonBlocking(false)
    return last
  }

  /// Writes the per-task summary to `fd` (stderr) with blocking writes, with the epoll
  /// platform's `loop` counters when given (signals that interrupted the wait, timer overruns
  /// after a stall). Not while the loop runs: there `requestSummary` hands it to a task.
  public func writeSummary(to fd: Int32, now: Instant, loop: PlatformCounters? = nil) {
    var out = TextWriter(fd: fd)
    renderSummary(into: &out, now: now, loop: loop)
    out.flush()
  }

  /// Renders the summary into `world.summary` and raises `FirmwareInterrupt.summaryReady` for
  /// the `SummaryWriter` task, which writes it without blocking the loop. A summary asked for
  /// while the previous one is still being written is not rendered: counted, and said in the
  /// next one.
  public mutating func requestSummary(now: Instant, loop: PlatformCounters? = nil) {
    if world.summary.remaining > 0 {
      world.summariesSkipped += 1
      return
    }
    var text = SummaryText()
    renderSummary(into: &text, now: now, loop: loop)
    text.endAtWholeLine()
    world.summary = text
    executor.raise(FirmwareInterrupt.summaryReady)
  }

  /// Renders the summary into `text` for delivery now, outside the loop (a reload, the exit):
  /// after the summary still being written, if one is (`world.summary`'s remaining bytes).
  public mutating func renderFinalSummary(
    into text: inout SummaryText, now: Instant, loop: PlatformCounters? = nil
  ) {
    text.reset()
    renderSummary(into: &text, now: now, loop: loop)
    text.endAtWholeLine()
  }
}
