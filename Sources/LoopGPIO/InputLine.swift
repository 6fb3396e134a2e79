// An input line as a task sees it, and the one decode path every edge takes: the line's fd
// (a kernel line-event fd from libgpiod v1 or v2, or the mock's pipe) is read directly, in
// batches of up to 16 kernel records (`struct gpioevent_data` on the v1 uAPI, `struct
// gpio_v2_line_event` on v2), each event goes through loss accounting (v2: exact, from the
// kernel's per-line sequence numbers) and debounce (software on v1; on v2 the kernel has done
// it), and lands in the line's fixed queue.
//
// The fd is watched edge-triggered by the epoll platform, which raises the line's interrupt;
// the task's poll takes the interrupt and drains the fd until it is empty (reading no more
// than the line's queue has room for: what is not read waits in the kernel's queue), so no
// readiness is ever missed. Nothing here allocates.

import CGPIOD
import LoopCore
import LoopLinux

/// What a requested line owns: for a libgpiod v1 line, the chip handle opened for it (closing
/// the chip releases the line and its event fd); for a v2 line, its line request; for a mock
/// input, the read end of its pipe; for a mock output that records, the write end of its port's
/// pipe. Only a `GPIOSystem` makes one; the line built over it releases it.
public struct LineHandle: ~Copyable {
  /// The fd edge events are read from (-1 for an output).
  public let eventFD: Int32
  /// The record format the fd gives.
  public let abi: KernelABI
  /// The events the kernel (or the mock) queues for the line before dropping.
  public let kernelQueue: Int
  /// Whether the kernel debounces the line (v2: `debounce_period_us` was requested).
  public let kernelDebounce: Bool
  /// The line's offset (for v2 value calls).
  let offset: UInt32
  /// The libgpiod v1 chip opened for this line only.
  let chip: OpaquePointer?
  /// The libgpiod v1 line (owned by `chip`).
  let line: OpaquePointer?
  /// The libgpiod v2 line request.
  let request: OpaquePointer?
  private let owned: FileDescriptor?

  /// A line whose events are read from `fd`, which the handle now owns (the mock's pipe),
  /// giving `abi` records from a queue of `kernelQueue` events.
  package init(eventFD fd: consuming FileDescriptor, abi: KernelABI = .v1, kernelQueue: Int = 16) {
    eventFD = fd.rawValue
    self.abi = abi
    self.kernelQueue = kernelQueue
    kernelDebounce = false
    offset = 0
    chip = nil
    line = nil
    request = nil
    owned = .some(fd)
  }

  /// A mock output that writes its changes, as `SimulatedOutputPort` records, to `changes` (the
  /// write end of the port's non-blocking pipe), which the handle now owns.
  package init(changes fd: consuming FileDescriptor) {
    eventFD = -1
    abi = .v1
    kernelQueue = 0
    kernelDebounce = false
    offset = 0
    chip = nil
    line = nil
    request = nil
    owned = .some(fd)
  }

  /// A line with no event fd and nothing to release (a mock output).
  package init() {
    eventFD = -1
    abi = .v1
    kernelQueue = 0
    kernelDebounce = false
    offset = 0
    chip = nil
    line = nil
    request = nil
    owned = nil
  }

  /// A requested libgpiod v1 line on a chip opened for it alone.
  init(chip: OpaquePointer, line: OpaquePointer, eventFD: Int32) {
    self.eventFD = eventFD
    abi = .v1
    kernelQueue = eventFD < 0 ? 0 : 16
    kernelDebounce = false
    offset = 0
    self.chip = chip
    self.line = line
    request = nil
    owned = nil
  }

  /// A libgpiod v2 line request for line `offset`.
  init(request: OpaquePointer, offset: Int, eventFD: Int32, kernelQueue: Int, kernelDebounce: Bool) {
    self.eventFD = eventFD
    abi = .v2
    self.kernelQueue = kernelQueue
    self.kernelDebounce = kernelDebounce
    self.offset = UInt32(truncatingIfNeeded: offset)
    chip = nil
    line = nil
    self.request = request
    owned = nil
  }

  /// Whether the line is a mock (nothing is requested from a kernel).
  public var isSimulated: Bool { line == nil && request == nil }

  /// A mock output that records: writes the change to its port (one write of a record shorter
  /// than PIPE_BUF, so whole or not at all; a full pipe drops it). Nothing for other lines.
  func recordChange(at time: Instant, value: Bool, level: Bool) {
    guard eventFD < 0 else { return }
    switch owned {
    case .some(let fd):
      var record = SimulatedOutputRecord(
        nanoseconds: time.nanoseconds, flags: (value ? 1 : 0) | (level ? 2 : 0))
      // SAFETY: the bytes of `record` (16, no padding) are read only during the call.
      _ = withUnsafeBytes(of: &record) { try? fd.tryWrite($0) }
    case .none: break
    }
  }

  deinit {
    // Releasing a v2 request, or closing a v1 line's own chip, releases the line and closes its
    // event fd.
    if let request { cg_v2_gpiod_line_request_release(request) }
    if let chip { cg_v1_gpiod_chip_close(chip) }
  }
}

/// A requested input line: its fd, its filter and queue, and its counters.
///
/// Poll it from one task (`poll(_:)`); the line's fd must be watched with its interrupt
/// (`EpollPlatform.watch(line:)`), or, on a virtual platform, the test raises the interrupt.
///
/// Queues up to 32 edges (more are counted in `overflowed`); reads at
/// most `batch` records per read(2), never blocks (the fd is non-blocking), never allocates.
public struct InputLine: ~Copyable {
  /// Events read per call, the depth of the v1 kernel's per-line FIFO.
  public static var batch: Int { 16 }

  private let handle: LineHandle
  /// How the line was requested.
  public let config: InputConfig
  /// Which chip and name the line was found by.
  public let source: LineSource
  /// The logical level when the line was requested, when known.
  public let initialLevel: Bool?
  /// Lost-edge detection and debounce state.
  package private(set) var filter: EdgeFilter
  private var queue = EdgeQueue()
  /// The kernel's sequence number of the last v2 event read; 0 before the first (the kernel
  /// numbers a request's edges from 1, so edges dropped before the first read count too).
  package private(set) var lastSeqno: UInt32 = 0
  /// True when the last read stopped for want of queue room, not because the fd was empty:
  /// the next `poll` reads on without waiting for the interrupt.
  private var unread = false
  /// What the line has seen.
  public private(set) var counters = LineCounters()
  /// The last read error other than "nothing to read", if any.
  public private(set) var lastError: Errno?

  /// An input over `handle` (from a `GPIOSystem`).
  package init(
    _ handle: consuming LineHandle, config: InputConfig, source: LineSource, initialLevel: Bool?
  ) {
    let kernelDebounce = handle.kernelDebounce
    let abi = handle.abi
    self.handle = handle
    self.config = config
    self.source = source
    self.initialLevel = initialLevel
    filter = EdgeFilter(
      edges: config.edges, window: kernelDebounce ? .zero : config.debounce, level: initialLevel,
      guessesLoss: abi == .v1)
  }

  /// The record format the line's fd gives (which libgpiod API requested it).
  public var abi: KernelABI { handle.abi }

  /// The events the kernel queues for the line before dropping (v1: always 16).
  public var kernelQueue: Int { handle.kernelQueue }

  /// Whether the kernel debounces the line (else `filter` does, on kernel timestamps).
  public var debouncedInKernel: Bool { handle.kernelDebounce }

  /// Whether the line is a mock line (the simulated board or a test).
  public var isSimulated: Bool { handle.isSimulated }

  /// The fd edge events are read from, to watch for readability.
  public var eventFD: Int32 { handle.eventFD }

  /// The interrupt the line's fd raises.
  public var interrupt: Interrupt { config.interrupt }

  /// Events waiting in the line's queue.
  public var queued: Int { queue.count }

  /// The next edge: `.ready` with the oldest queued event, or `.pending` after registering
  /// the task for the line's interrupt (and, while a debounced level may still settle, for
  /// the end of the debounce window). Throws when that timer cannot be armed.
  public mutating func poll<S: Scheduler & ~Copyable>(_ cx: inout Context<S>) throws(CapacityError)
    -> Poll<EdgeEvent>
  {
    while true {
      if let event = next() { return .ready(event) }
      // Taking the interrupt makes the task its handler and consumes it if it was pending.
      // Records left in the kernel's queue by a read that filled ours are read without it.
      guard cx.take(config.interrupt) || unread else { break }
      readAvailable()
    }
    if let deadline = filter.settleDeadline {
      if cx.now >= deadline {
        settle(at: cx.now)
        if let event = next() { return .ready(event) }
      } else {
        try cx.wake(at: deadline)
      }
    }
    return .pending
  }

  /// Removes and returns the oldest queued event (what `poll` delivers), without reading the fd.
  package mutating func next() -> EdgeEvent? {
    guard let event = queue.pop() else { return nil }
    counters.delivered += 1
    return event
  }

  /// Reports a debounced level that has settled by `now` (what `poll` does at the end of the
  /// window), for callers that drive the line without a `Context`.
  package mutating func settle(at now: Instant) {
    if let event = filter.settle(at: now, &counters) { enqueue(event) }
  }

  /// Reads the events the fd holds (until it would block, or until the queue has no room for
  /// another batch: the rest wait in the kernel's queue, and `poll` reads on) through loss
  /// accounting and the filter into the queue; returns how many events were read.
  ///
  /// This is the decode path for libgpiod v1, v2 and mock lines alike. A read shorter than asked
  /// means the fd was empty at that moment; a later event makes the fd ready again.
  @discardableResult
  package mutating func readAvailable() -> Int {
    unread = false
    var total = 0
    switch handle.abi {
    case .v1:
      // v1: the kernel's 16-event FIFO drops the newest, so everything is read at once and a
      // full queue here drops (and counts) the newest too.
      var batch = InlineArray<16, gpioevent_data>(repeating: gpioevent_data())
      while true {
        let asked = Self.batch
        let n = read(into: &batch, asked)
        for i in 0..<n {
          let edge: Edge = batch[i].id == UInt32(GPIOEVENT_EVENT_RISING_EDGE) ? .rising : .falling
          accept(edge, batch[i].timestamp)
        }
        total += n
        if n < asked { break }
      }
    case .v2:
      // v2: the kernel's queue is sized for the line and drops the oldest, counted exactly:
      // records are read only as the queue here has room for them, the rest wait there.
      var batch = InlineArray<16, gpio_v2_line_event>(repeating: gpio_v2_line_event())
      while true {
        let asked = room()
        if asked == 0 {
          unread = true
          break
        }
        let n = read(into: &batch, asked)
        for i in 0..<n {
          let record = batch[i]
          // The kernel numbers every edge of the line, queued or dropped: a gap is exactly the
          // edges its full queue dropped (the oldest) before this one.
          // A number that went backwards (never from a kernel) is no loss.
          let gap = record.line_seqno &- lastSeqno &- 1
          if gap != 0 && gap < 0x8000_0000 { counters.lost += UInt64(gap) }
          lastSeqno = record.line_seqno
          let edge: Edge = record.id == GPIO_V2_LINE_EVENT_RISING_EDGE.rawValue ? .rising : .falling
          accept(edge, record.timestamp_ns)
        }
        total += n
        if n < asked { break }
      }
    }
    return total
  }

  /// v2 records to read next: a batch (16), fewer when the queue has less room. A batch of n
  /// records puts at most n events in it, plus one when a debounce hold is pending (a settled
  /// level needs a held-back record, and each hold settles once).
  private func room() -> Int {
    let pendingHold = filter.holdUntil != nil ? 1 : 0
    return max(0, min(Self.batch, EdgeQueue.capacity - queue.count - pendingHold))
  }

  @inline(never)
  private mutating func accept(_ edge: Edge, _ timestamp: UInt64) {
    let nanoseconds = Int64(bitPattern: timestamp)
    let out = filter.accept(EdgeEvent(edge, at: Instant(nanoseconds: nanoseconds)), &counters)
    if let settled = out.settled { enqueue(settled) }
    if let passed = out.passed { enqueue(passed) }
  }

  /// One `read` of up to `count` whole records; 0 when the fd has nothing now or failed.
  /// "Nothing now" (EAGAIN) is a result, not a thrown error: it ends every drain.
  private mutating func read<let n: Int, Record>(into batch: inout InlineArray<n, Record>, _ count: Int)
    -> Int
  {
    let fd = handle.eventFD
    let size = MemoryLayout<Record>.stride
    var span = batch.mutableSpan
    let outcome = span.withUnsafeMutableBufferPointer { records in
      // SAFETY: `records` is the batch's storage for this closure; at most `count` (<= n)
      // records' bytes are read into it.
      systemCallResult("InputLine.readAvailable: read", via: LinuxCalls.self) {
        cg_read(fd, records.baseAddress, count * size)
      }
    }
    switch outcome {
    case .success(let bytes):
      if Int(bytes) < size {
        // Less than one record (a partial write, or end of file when the mock's writer is
        // gone): EIO, as libgpiod reports it. Counted and reported, never fatal on the event
        // path. A trailing partial record after whole ones is dropped with them, as libgpiod does.
        counters.readErrors += 1
        lastError = .ioError
        return 0
      }
      counters.reads += 1
      return Int(bytes) / size
    case .failure(.wouldBlock):
      return 0
    case .failure(let error):
      // ENODEV: the chip went away. Counted and reported, never fatal on the event path.
      counters.readErrors += 1
      lastError = error
      return 0
    }
  }

  private mutating func enqueue(_ event: EdgeEvent) {
    if !queue.push(event) { counters.overflowed += 1 }
  }
}

extension EpollReactor {
  /// Watches `line`'s event fd, edge-triggered, raising its interrupt when it becomes readable.
  public mutating func watch(line: borrowing InputLine) throws(Errno) {
    try watch(line.eventFD, as: line.interrupt, for: .readable)
  }
}
