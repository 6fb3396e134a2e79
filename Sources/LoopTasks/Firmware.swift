// The firmware: an executor of `FirmwareTask`s over a platform, with its world, run until a
// signal, a task or `--duration` asks it to stop; and the per-task summary printed on SIGUSR1
// and at exit.

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
  private var spawned = InlineArray<40, Waker?>(repeating: nil)
  private var spawnedCount = 0

  /// A firmware on `platform` with `world`, started at `start` (now when nil): the instant the
  /// tasks' grids and the stimuli's scripts count from.
  public init(platform: consuming P, world: consuming FirmwareWorld, start: Instant? = nil) {
    executor = Executor(platform: platform)
    executor.measuresPollTime = true
    self.world = world
    if let start { self.start = start } else { self.start = executor.platform.now() }
    for i in 0..<FirmwareLimits.tasks { self.world.due[i] = self.start }
  }

  /// Spawns `task`; throws `.taskSlots` past the capacity (the config checks prevent it).
  public mutating func spawn(_ task: FirmwareTask) throws(CapacityError) {
    let waker = try executor.spawn(task)
    // The entry of a task that has finished (a stop timer, a stimulus script) is reused: the
    // table holds the live tasks for the summary, however many were spawned over a long run.
    for i in 0..<spawnedCount {
      guard let old = spawned[i], executor.stats(old) == nil else { continue }
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

  /// The per-task summary, as text.
  public func renderSummary<Out: TextColumns>(
    into out: inout Out, now: Instant, loop: PlatformCounters? = nil
  ) {
    out.append("sensorloop: summary after ")
    out.append(decimal: Double((now - start).nanoseconds) / 1e9, decimals: 3)
    out.append(" s\n")
    out.column("task", 16)
    out.column("kind", 14)
    // One call per heading: an array literal would allocate.
    out.column("polls", 11, right: true)
    out.column("wakes", 11, right: true)
    out.column("longest_us", 11, right: true)
    out.column("missed", 11, right: true)
    out.column("records", 11, right: true)
    out.column("dropped", 11, right: true)
    out.column("errors", 11, right: true)
    out.append("\n")
    for i in 0..<spawnedCount {
      guard let waker = spawned[i], let task = executor.task(waker), let stats = executor.stats(waker)
      else { continue }
      let counters = task.taskIndex.map { world.counters[$0] } ?? TaskCounters()
      if let index = task.taskIndex { out.column(world.names[index], 16) } else { out.column("-", 16) }
      out.column(task.kind, 14)
      out.number(Int64(stats.polls), 11)
      out.number(Int64(stats.wakes), 11)
      out.number(stats.longestPoll.nanoseconds / 1_000, 11)
      out.number(Int64(counters.missedTicks), 11)
      out.number(Int64(counters.records), 11)
      out.number(Int64(counters.dropped), 11)
      out.number(Int64(counters.errors), 11)
      out.append("\n")
    }
    for i in 0..<FirmwareLimits.lines {
      guard let line = world.inputSummary(i) else { continue }
      // The config's name, with the kernel's name (or the offset of an unnamed line) beside it.
      out.append("line ")
      if !line.name.isEmpty {
        out.append(line.name)
        out.append(" (")
      }
      if line.source.name.isEmpty {
        out.append("#")
        out.append(integer: Int64(line.source.offset))
      } else {
        out.append(line.source.name)
      }
      if !line.name.isEmpty { out.append(")") }
      out.append(": ")
      out.append(integer: Int64(line.counters.edges))
      out.append(" edges, ")
      out.append(integer: Int64(line.counters.delivered))
      out.append(" delivered, ")
      out.append(integer: Int64(line.counters.debouncedAway))
      out.append(" debounced away, ")
      out.append(integer: Int64(line.counters.lost))
      out.append(" lost, ")
      out.append(integer: Int64(line.counters.overflowed))
      out.append(" overflowed, ")
      out.append(integer: Int64(line.counters.readErrors))
      out.append(" read errors; ")
      out.append(line.isMock ? "mock " : "libgpiod ")
      out.append(line.abi == .v2 ? "v2" : "v1")
      out.append(line.isMock ? " records, queue " : ", kernel queue ")
      out.append(integer: Int64(line.kernelQueue))
      if line.debounce > .zero {
        out.append(line.debouncedInKernel ? ", debounce in kernel" : ", debounce in software")
      }
      out.append("\n")
    }
    out.append("output: ")
    out.append(integer: Int64(world.output.records))
    out.append(" records, ")
    out.append(integer: Int64(world.output.dropped))
    out.append(" dropped (ring full), ")
    out.append(integer: Int64(world.output.truncated))
    out.append(" truncated, ")
    out.append(integer: Int64(world.output.count))
    out.append(" bytes unwritten\n")
    if world.outputLoss.records > 0 || world.outputLoss.bytes > 0 {
      // Accepted by the ring, then refused by the fd: said on a line of its own.
      out.append("output: ")
      out.append(integer: Int64(world.outputLoss.records))
      out.append(" records discarded after write errors (")
      out.append(integer: Int64(world.outputLoss.bytes))
      out.append(" bytes, last error ")
      out.append(Errno(rawValue: world.outputLoss.lastErrno).name)
      out.append(")\n")
    }
    if let loop {
      out.append("loop: ")
      out.append(integer: Int64(loop.waits))
      out.append(" waits, ")
      out.append(integer: Int64(loop.interruptedWaits))
      out.append(" interrupted (EINTR, retried), ")
      out.append(integer: Int64(loop.overruns))
      out.append(" timer overruns, max timer lateness ")
      out.append(integer: loop.maxTimerLateness.nanoseconds / 1_000)
      out.append(" us\n")
    }
    if world.summariesSkipped > 0 {
      out.append("summary: ")
      out.append(integer: Int64(world.summariesSkipped))
      out.append(
        " requests not printed (the previous summary still being written, or no room in the output ring)\n")
    }
  }
}

/// Text with column helpers (the summary's table), appended a byte at a time.
public protocol TextColumns: ByteAppending {
  /// The column the next byte lands in (0 after a newline).
  var currentColumn: Int { get }
}

extension TextColumns {
  /// Appends `text` padded with spaces to `width` (left-aligned unless `right`).
  public mutating func column(_ text: StaticString, _ width: Int, right: Bool = false) {
    let start = currentColumn
    if right { pad(width - text.utf8CodeUnitCount) }
    append(text)
    if !right { pad(width - (currentColumn - start)) }
  }

  /// Appends a name padded to `width`.
  public mutating func column(_ text: ShortName, _ width: Int) {
    let start = currentColumn
    append(text)
    pad(width - (currentColumn - start))
  }

  /// Appends `value` right-aligned in `width`.
  public mutating func number(_ value: Int64, _ width: Int) {
    var digits = 1
    var rest = value.magnitude / 10
    while rest > 0 {
      digits += 1
      rest /= 10
    }
    pad(width - digits - (value < 0 ? 1 : 0))
    append(integer: value)
  }

  private mutating func pad(_ n: Int) {
    var n = max(n, 1)
    while n > 0 {
      append(byte: 0x20)
      n -= 1
    }
  }
}

/// Text written to an fd through a small fixed buffer with blocking writes (messages before
/// and after the loop; never while it runs).
public struct TextWriter: TextColumns {
  private var buffer = InlineArray<512, UInt8>(repeating: 0)
  private var count = 0
  public private(set) var currentColumn = 0
  /// The destination fd (not owned).
  public let fd: Int32

  /// A writer to `fd`.
  public init(fd: Int32) { self.fd = fd }

  public mutating func append(byte: UInt8) {
    if count == 512 { flush() }
    buffer[count] = byte
    count += 1
    currentColumn = byte == 0x0A ? 0 : currentColumn + 1
  }

  /// Writes what is buffered (blocking writes; errors ignored: there is nowhere to report them).
  public mutating func flush() {
    writeAllBlocking(fd, buffer.span.extracting(0..<count))
    count = 0
  }
}

/// Writes all of `bytes` to `fd`, retrying short writes; stops at the first error.
func writeAllBlocking(_ fd: Int32, _ bytes: Span<UInt8>) {
  let out = BorrowedFileDescriptor(fd)
  var offset = 0
  while offset < bytes.count {
    guard let wrote = try? out.write(bytes.extracting(offset..<bytes.count)), wrote > 0 else { return }
    offset += wrote
  }
}

/// A summary rendered into a fixed buffer, written later by the `SummaryWriter` task (to stderr
/// through the worker, or into the output ring when stderr is the output's file).
public struct SummaryText: TextColumns {
  /// The longest summary: 40 task rows and 32 line rows of ~110 bytes fit twice over.
  public static let capacity = 16_384

  private var bytes = InlineArray<16_384, UInt8>(repeating: 0)
  /// Bytes rendered.
  public private(set) var count = 0
  /// Bytes delivered so far (written or queued in the ring).
  public private(set) var delivered = 0
  public private(set) var currentColumn = 0

  /// An empty text.
  public init() {}

  /// Bytes rendered but not yet delivered.
  public var remaining: Int { count - delivered }

  public mutating func append(byte: UInt8) {
    if count == SummaryText.capacity { return }
    bytes[count] = byte
    count += 1
    currentColumn = byte == 0x0A ? 0 : currentColumn + 1
  }

  /// Empties the text.
  public mutating func reset() {
    count = 0
    delivered = 0
    inFlight = 0
    currentColumn = 0
  }

  /// Cuts a line the capacity cut short, so the text is whole lines only.
  public mutating func endAtWholeLine() {
    while count > 0 && bytes[count - 1] != 0x0A { count -= 1 }
  }

  /// Bytes after `delivered` handed to a worker thread's write, not yet confirmed.
  public var inFlight = 0

  /// Marks `n` more bytes as delivered.
  public mutating func markDelivered(_ n: Int) {
    precondition(n >= 0 && n <= remaining, "SummaryText.markDelivered: past the end")
    delivered += n
  }

  /// The bytes not yet delivered.
  public func withRemaining<R>(_ body: (Span<UInt8>) -> R) -> R {
    body(bytes.span.extracting(delivered..<count))
  }
}
