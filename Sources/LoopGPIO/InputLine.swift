// An input line as a task sees it, and the one decode path every edge takes: the line's fd
// (a kernel line-event fd, or the mock's pipe) is read with libgpiod's
// `gpiod_line_event_read_fd_multiple` into a fixed 16-event buffer, each event goes through
// lost-edge detection and debounce, and lands in the line's fixed queue.
//
// The fd is watched edge-triggered by the epoll platform, which raises the line's interrupt;
// the task's poll takes the interrupt and drains the fd until it is empty, so no readiness
// is ever missed. Nothing here allocates.

import CGPIOD
import LoopCore
import LoopLinux

/// What a requested line owns: for a libgpiod line, the chip handle opened for it (closing the
/// chip releases the line and its event fd); for a mock line, the read end of its pipe.
public struct LineHandle: ~Copyable {
  /// The fd edge events are read from (-1 for an output).
  public let eventFD: Int32
  /// The libgpiod chip opened for this line only.
  let chip: OpaquePointer?
  /// The libgpiod line (owned by `chip`).
  let line: OpaquePointer?
  private let owned: FileDescriptor?

  /// A line whose events are read from `fd`, which the handle now owns (the mock's pipe).
  public init(eventFD fd: consuming FileDescriptor) {
    eventFD = fd.rawValue
    chip = nil
    line = nil
    owned = .some(fd)
  }

  /// A line with no event fd and nothing to release (a mock output).
  public init() {
    eventFD = -1
    chip = nil
    line = nil
    owned = nil
  }

  /// A requested libgpiod line on a chip opened for it alone.
  init(chip: OpaquePointer, line: OpaquePointer, eventFD: Int32) {
    self.eventFD = eventFD
    self.chip = chip
    self.line = line
    owned = nil
  }

  deinit {
    // gpiod_chip_close releases the requested line, which closes its event fd.
    if let chip { gpiod_chip_close(chip) }
  }
}

/// A requested input line: its fd, its filter and queue, and its counters.
///
/// Poll it from one task (`poll(_:)`); the line's fd must be watched with its interrupt
/// (`EpollPlatform.watch(line:)`), or, on a virtual platform, the test raises the interrupt.
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
  public private(set) var filter: EdgeFilter
  private var queue = EdgeQueue()
  /// What the line has seen.
  public private(set) var counters = LineCounters()
  /// The last read error other than "nothing to read", if any.
  public private(set) var lastError: Errno?

  /// An input over `handle` (from a `GPIOSystem`).
  public init(
    _ handle: consuming LineHandle, config: InputConfig, source: LineSource, initialLevel: Bool?
  ) {
    self.handle = handle
    self.config = config
    self.source = source
    self.initialLevel = initialLevel
    filter = EdgeFilter(edges: config.edges, window: config.debounce, level: initialLevel)
  }

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
      guard cx.take(config.interrupt) else { break }
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
  public mutating func next() -> EdgeEvent? {
    guard let event = queue.pop() else { return nil }
    counters.delivered += 1
    return event
  }

  /// Reports a debounced level that has settled by `now` (what `poll` does at the end of the
  /// window), for callers that drive the line without a `Context`.
  public mutating func settle(at now: Instant) {
    if let event = filter.settle(at: now, &counters) { enqueue(event) }
  }

  /// Reads every event the fd holds (until it would block) through the filter into the queue;
  /// returns how many events were read.
  ///
  /// This is the decode path for libgpiod and mock lines alike. A read shorter than the batch
  /// means the fd was empty at that moment; a later event makes the fd ready again.
  @discardableResult
  public mutating func readAvailable() -> Int {
    var batch = InlineArray<16, gpiod_line_event>(repeating: gpiod_line_event())
    var total = 0
    while true {
      let n = read(into: &batch)
      if n <= 0 { break }
      counters.reads += 1
      for i in 0..<n {
        let raw = batch[i]
        let edge: Edge = raw.event_type == Int32(GPIOD_LINE_EVENT_RISING_EDGE) ? .rising : .falling
        let nanoseconds = Int64(raw.ts.tv_sec) &* 1_000_000_000 &+ Int64(raw.ts.tv_nsec)
        let out = filter.accept(EdgeEvent(edge, at: Instant(nanoseconds: nanoseconds)), &counters)
        if let settled = out.settled { enqueue(settled) }
        if let passed = out.passed { enqueue(passed) }
      }
      total += n
      if n < Self.batch { break }
    }
    return total
  }

  /// One `gpiod_line_event_read_fd_multiple` call; 0 when the fd has nothing now or failed.
  /// "Nothing now" (EAGAIN) is a result, not a thrown error: it ends every drain.
  private mutating func read(into batch: inout InlineArray<16, gpiod_line_event>) -> Int {
    let fd = handle.eventFD
    var span = batch.mutableSpan
    let outcome = span.withUnsafeMutableBufferPointer { events in
      // SAFETY: `events` is the batch's storage for this closure; libgpiod writes at most
      // `events.count` (16) events into it.
      systemCallResult("InputLine.readAvailable: gpiod_line_event_read_fd_multiple", via: LinuxCalls.self) {
        gpiod_line_event_read_fd_multiple(fd, events.baseAddress, UInt32(events.count))
      }
    }
    switch outcome {
    case .success(let n):
      return Int(n)
    case .failure(.wouldBlock):
      return 0
    case .failure(let error):
      // EIO: a short read (a partial record, or end of file when the mock's writer is gone);
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
