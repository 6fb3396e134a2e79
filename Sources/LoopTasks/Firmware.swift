// The firmware: an executor of `FirmwareTask`s over a platform, with its world, run until a
// signal, a task or `--duration` asks it to stop; and the per-task summary printed on SIGUSR1
// and at exit.

import CLinux
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
    let fd = world.outputFD
    let deadline = monotonicNow() + limit
    var last: OutputWriter.Outcome? = nil
    var room = OutputRoom()
    while !world.output.isEmpty {
      last = OutputWriter.drainOnce(&world)
      if last == .wrote(0) { break }
      if last == .wouldBlock && !room.wait(for: fd, until: deadline) { break }
    }
    let flags = cl_fcntl(fd, F_GETFL, 0)
    if flags >= 0 && flags & O_NONBLOCK != 0 { _ = cl_fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) }
    return last
  }

  /// Writes the per-task summary to `fd` (stderr), with the epoll platform's `loop` counters
  /// when given (signals that interrupted the wait, timer overruns after a stall).
  public func writeSummary(to fd: Int32, now: Instant, loop: PlatformCounters? = nil) {
    var out = TextWriter(fd: fd)
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
      guard let line = world.inputCounters(i) else { continue }
      out.append("line ")
      out.append(line.name)
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
      out.append(" read errors\n")
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
    out.flush()
  }
}

/// Waits for room on the output fd at shutdown, through an epoll fd of its own made on first
/// use (the platform's may be gone, and a virtual platform has none).
struct OutputRoom: ~Copyable {
  private var epoll: Int32 = -1

  init() {}

  deinit { if epoll >= 0 { _ = cl_close(epoll) } }

  /// Waits until `fd` can take more bytes or `deadline` passes; false on timeout or failure.
  mutating func wait(for fd: Int32, until deadline: Instant) -> Bool {
    if epoll < 0 {
      epoll = cl_epoll_create1(Int32(EPOLL_CLOEXEC))
      if epoll < 0 { return false }
      var event = epoll_event()
      event.events = EPOLLOUT.rawValue
      // A regular file cannot be watched (EPERM), but it never reports "would block" either.
      if cl_epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &event) != 0 { return false }
    }
    while true {
      let left = deadline - monotonicNow()
      if left <= .zero { return false }
      var event = epoll_event()
      let ms = Int32(min((left.nanoseconds + 999_999) / 1_000_000, 60_000))
      let n = cl_epoll_wait(epoll, &event, 1, ms)
      if n > 0 { return true }
      if n < 0 && cl_errno() != EINTR { return false }
    }
  }
}

/// Text written to an fd through a small fixed buffer (the summary; never the hot path).
public struct TextWriter: ByteAppending {
  private var buffer = InlineArray<512, UInt8>(repeating: 0)
  private var count = 0
  private var column = 0
  /// The destination fd (not owned).
  public let fd: Int32

  /// A writer to `fd`.
  public init(fd: Int32) { self.fd = fd }

  public mutating func append(byte: UInt8) {
    if count == 512 { flush() }
    buffer[count] = byte
    count += 1
    column = byte == 0x0A ? 0 : column + 1
  }

  /// Writes what is buffered (blocking writes; errors ignored: there is nowhere to report them).
  public mutating func flush() {
    var offset = 0
    let n = count
    buffer.span.withUnsafeBytes { raw in
      while offset < n {
        guard case .success(let wrote) = writeUnowned(fd, UnsafeRawBufferPointer(rebasing: raw[offset..<n])),
          wrote > 0
        else { return }
        offset += wrote
      }
    }
    count = 0
  }

  /// Appends `text` padded with spaces to `width` (left-aligned unless `right`).
  public mutating func column(_ text: StaticString, _ width: Int, right: Bool = false) {
    let start = column
    if right { pad(width - text.utf8CodeUnitCount) }
    append(text)
    if !right { pad(width - (column - start)) }
  }

  /// Appends a name padded to `width`.
  public mutating func column(_ text: ShortName, _ width: Int) {
    let start = column
    append(text)
    pad(width - (column - start))
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
