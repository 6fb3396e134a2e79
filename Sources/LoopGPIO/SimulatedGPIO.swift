// The mock GPIO backend: chips and lines in memory, for host tests and the simulated board.
// A requested mock input is a nonblocking pipe; its `SimulatedInputPort` writes edge records in the
// kernel's own format, v1 (`struct gpioevent_data`, 16 bytes) or v2 (`struct
// gpio_v2_line_event`, 48 bytes, with per-line sequence numbers), so the loop reads them
// through the one decode path exactly as it reads a real line's fd. The port copies the
// kernel's behaviour: active-low lines report logical edges, only requested edges are reported;
// v1's per-line FIFO holds 16 events and drops the newest when full, v2's holds the requested
// size (rounded up to a power of two) and drops the oldest. The mock kernel does not debounce:
// mock lines are debounced in software on either ABI.

import CGPIOD
import LoopCore
import LoopLinux

/// An edge waiting in a mock port for its write.
struct PendingEdge {
  var timestamp: UInt64 = 0
  var rising = false
  var seqno: UInt32 = 0
}

/// The write side of a mock input: drive the physical level, and edges appear on the line's fd.
///
/// Batches up to 16 edges per write (a 17th flushes them); the emulated kernel queue (`depth`)
/// drops as the kernel would, counted in `counters`. Writes to a non-blocking pipe, never
/// blocks; never allocates.
public struct SimulatedInputPort: ~Copyable {
  /// Events the kernel's v1 FIFO holds per line; further events are dropped until it is read.
  public static var kernelFIFODepth: Int { 16 }

  private let writer: FileDescriptor
  // A duplicate of the pipe's read end: the pipe never loses its last reader (a write would
  // raise SIGPIPE), FIONREAD on it tells how many records wait unread, and on v2 reading it
  // drops the oldest.
  private let reader: FileDescriptor
  private var pending = InlineArray<16, PendingEdge>(first: PendingEdge()) { $0 }
  private var pendingCount = 0
  private var lineSeqno: UInt32 = 0

  /// The record format written (which kernel uAPI the port emulates).
  public let abi: KernelABI
  /// Events the emulated kernel queue holds (16 on v1).
  public let depth: Int

  /// The chip's device path, as in the input's `LineSource`.
  public let chipPath: GPIOName
  /// The line's offset on the chip.
  public let offset: Int
  /// Which edges the line was requested for.
  public let edges: EdgeDetection
  /// Whether the line was requested active-low.
  public let activeLow: Bool
  /// The physical level of the pin now.
  public private(set) var level: Bool
  /// What the port has done.
  public private(set) var counters = SimulatedPortCounters()

  init(
    writer: consuming FileDescriptor, reader: consuming FileDescriptor, chipPath: GPIOName,
    offset: Int, edges: EdgeDetection, activeLow: Bool, level: Bool, abi: KernelABI = .v1, depth: Int = 16
  ) {
    self.writer = writer
    self.reader = reader
    self.abi = abi
    self.depth = depth
    self.chipPath = chipPath
    self.offset = offset
    self.edges = edges
    self.activeLow = activeLow
    self.level = level
  }

  /// Whether this port drives line `offset` of the chip at `path`.
  public func drives(path: GPIOName, offset: Int) -> Bool { chipPath == path && self.offset == offset }

  /// The logical level (what the line reports).
  public var logicalLevel: Bool { level != activeLow }

  /// Drives the pin to physical `level` at `time` and writes the edge, if any, at once.
  public mutating func drive(_ level: Bool, at time: Instant) {
    queue(level, at: time)
    flush()
  }

  /// Drives the pin to physical `level` at `time`; the edge is written by the next `flush`
  /// (or when 16 are waiting). A level equal to the current one is no edge.
  public mutating func queue(_ newLevel: Bool, at time: Instant) {
    if newLevel == level { return }
    level = newLevel
    counters.transitions += 1
    // The kernel reports the logical edge: on an active-low line a physical fall is a rise.
    let edge = Edge(to: newLevel != activeLow)
    guard edges.reports(edge) else { return }
    if pendingCount == 16 { flush() }
    // The v2 kernel numbers every edge it reports, queued or later dropped.
    lineSeqno &+= 1
    pending[pendingCount] = PendingEdge(
      timestamp: UInt64(bitPattern: time.nanoseconds), rising: edge == .rising, seqno: lineSeqno)
    pendingCount += 1
  }

  /// Writes the queued edges in one `write`, as the emulated kernel queue has room for them. v1:
  /// the rest are dropped (the newest, as the kernel drops them); v2: the oldest are dropped,
  /// unread records first (read out of the pipe), then the oldest queued ones. Drops are counted.
  public mutating func flush() {
    var count = pendingCount
    if count == 0 { return }
    pendingCount = 0
    var unreadBytes: Int32 = 0
    let readFD = reader.rawValue
    let asked = systemCallResult("SimulatedInputPort.flush: ioctl(FIONREAD)", via: LinuxCalls.self) {
      cg_unread_bytes(readFD, &unreadBytes)
    }
    if case .failure = asked {
      counters.writeErrors += 1
      return
    }
    var first = 0
    switch abi {
    case .v1:
      let room = max(0, depth - Int(unreadBytes) / MemoryLayout<gpioevent_data>.stride)
      let kept = min(room, count)
      counters.kernelDropped += UInt64(count - kept)
      count = kept
    case .v2:
      let unread = Int(unreadBytes) / MemoryLayout<gpio_v2_line_event>.stride
      var over = unread + count - depth
      if over > 0 {
        counters.kernelDropped += UInt64(over)
        let fromPipe = min(over, unread)
        if discardUnread(fromPipe) != fromPipe { counters.writeErrors += 1 }
        over -= fromPipe
        first = over
      }
    }
    if count - first <= 0 { return }
    switch abi {
    case .v1:
      var records = InlineArray<16, gpioevent_data>(repeating: gpioevent_data())
      for i in first..<count {
        records[i - first].timestamp = pending[i].timestamp
        records[i - first].id = UInt32(
          pending[i].rising ? GPIOEVENT_EVENT_RISING_EDGE : GPIOEVENT_EVENT_FALLING_EDGE)
      }
      write(&records, count - first)
    case .v2:
      var records = InlineArray<16, gpio_v2_line_event>(repeating: gpio_v2_line_event())
      for i in first..<count {
        records[i - first].timestamp_ns = pending[i].timestamp
        records[i - first].id =
          pending[i].rising
          ? GPIO_V2_LINE_EVENT_RISING_EDGE.rawValue : GPIO_V2_LINE_EVENT_FALLING_EDGE.rawValue
        records[i - first].offset = UInt32(truncatingIfNeeded: offset)
        // One line per request: the request's sequence number is the line's.
        records[i - first].seqno = pending[i].seqno
        records[i - first].line_seqno = pending[i].seqno
      }
      write(&records, count - first)
    }
  }

  /// Reads (drops) the `count` oldest unread v2 records out of the pipe; returns how many.
  private mutating func discardUnread(_ count: Int) -> Int {
    var scratch = InlineArray<16, gpio_v2_line_event>(repeating: gpio_v2_line_event())
    let size = MemoryLayout<gpio_v2_line_event>.stride
    let fd = reader.rawValue
    var left = count
    while left > 0 {
      let chunk = min(left, 16)
      var span = scratch.mutableSpan
      let got = span.withUnsafeMutableBufferPointer { records in
        // SAFETY: at most 16 records' bytes are read into the scratch batch.
        cg_read(fd, records.baseAddress, chunk * size)
      }
      if got <= 0 { break }
      left -= Int(got) / size
    }
    return count - left
  }

  /// Writes the first `count` records in one `write`.
  private mutating func write<Record>(_ records: inout InlineArray<16, Record>, _ count: Int) {
    let size = MemoryLayout<Record>.stride
    var span = records.mutableSpan
    do {
      let written = try span.withUnsafeMutableBufferPointer { (records) throws(Errno) -> Int? in
        // SAFETY: the first `count` records are initialised; the buffer lives for the closure.
        // At most 768 bytes: a pipe write under PIPE_BUF (4096) is atomic, and the pipe (64 KiB)
        // always has room for the emulated queue (at most 1024 v2 records, 48 KiB).
        try writer.tryWrite(UnsafeRawBufferPointer(start: records.baseAddress, count: count * size))
      }
      if let written {
        counters.eventsWritten += UInt64(written / size)
      } else {
        counters.writeErrors += 1
      }
    } catch {
      counters.writeErrors += 1
    }
  }
}

/// What a mock input port has done.
public struct SimulatedPortCounters: Equatable, Sendable {
  /// Physical level changes driven.
  public var transitions: UInt64 = 0
  /// Edge records written to the line's fd.
  public var eventsWritten: UInt64 = 0
  /// Edges the emulated kernel queue dropped because it was full (v1: the newest, 16 waiting;
  /// v2: the oldest).
  public var kernelDropped: UInt64 = 0
  /// Writes that failed.
  public var writeErrors: UInt64 = 0

  /// Zeroed counters.
  public init() {}
}

/// A change of a mock output as written to its port's pipe: 16 bytes, no padding.
struct SimulatedOutputRecord {
  /// When it was set (the executor's clock).
  var nanoseconds: Int64
  /// Bit 0: the logical value; bit 1: the physical level.
  var flags: UInt64
}

/// The read side of a mock output requested while its `SimulatedGPIO` records outputs: the value it
/// was requested with, then every change, each with its time, oldest first. Its pipe holds
/// 4,096 changes; changes made while it is full are lost (read it as the test goes).
public struct SimulatedOutputPort: ~Copyable {
  private let reader: FileDescriptor
  /// The chip's device path, as in the output's `LineSource`.
  public let chipPath: GPIOName
  /// The line's offset on the chip.
  public let offset: Int

  init(reader: consuming FileDescriptor, chipPath: GPIOName, offset: Int) {
    self.reader = reader
    self.chipPath = chipPath
    self.offset = offset
  }

  /// Whether this port records line `offset` of the chip at `path`.
  public func drives(path: GPIOName, offset: Int) -> Bool { chipPath == path && self.offset == offset }

  /// The oldest change not yet read; nil when none waits.
  public func nextChange() -> OutputChange? {
    var record = SimulatedOutputRecord(nanoseconds: 0, flags: 0)
    // SAFETY: the read fills at most the 16 bytes of `record`, during the call; any bit pattern
    // is a valid `SimulatedOutputRecord`.
    let n = withUnsafeMutableBytes(of: &record) { try? reader.tryRead(into: $0) }
    guard n == MemoryLayout<SimulatedOutputRecord>.size else { return nil }
    return OutputChange(
      time: Instant(nanoseconds: record.nanoseconds), value: record.flags & 1 != 0,
      level: record.flags & 2 != 0)
  }
}

/// Simulated GPIO chips: the `GPIOSystem` of the simulated board and of host tests.
///
/// Chips have a device name, a label and named lines; a requested line is busy for the next
/// request. Requesting an input makes a pipe and a `SimulatedInputPort` to drive it (`takePort`);
/// with `recordsOutputs`, requesting an output makes a pipe and a `SimulatedOutputPort` that reads
/// its changes (`takeOutputPort`).
/// (Tests make lines busy for other consumers and chips inaccessible with the test support's
/// `FaultyGPIO`, a `GPIOSystem` wrapped around a `SimulatedGPIO`.)
///
/// Capacities: `chipCapacity` chips of `lineCapacity` lines, `portCapacity` ports. Requesting an
/// input makes a pipe (two fds); nothing allocates on the heap.
public struct SimulatedGPIO: GPIOSystem, ~Copyable {
  /// Chips one mock system holds.
  public static var chipCapacity: Int { 4 }
  /// Lines per mock chip.
  public static var lineCapacity: Int { 64 }
  /// Ports of requested inputs waiting to be taken.
  public static var portCapacity: Int { 32 }
  /// Lines that can be requested.
  public static var busyCapacity: Int { 32 }

  private var chips = InlineArray<4, SimulatedChip>(first: SimulatedChip()) { $0 }
  /// The chips' line names, `lineCapacity` per chip (chip `c`'s line `o` at `c * 64 + o`). Kept
  /// out of `SimulatedChip`: a chip read from `chips` is a copy, and with its 64 names it was
  /// 4 KB (the startup search's frames held dozens of them).
  private var lineNames = InlineArray<256, GPIOName>(first: GPIOName()) { $0 }
  private var chipCount = 0
  private var ports: InlineArray<32, SimulatedInputPort?> = InlineArray(first: nil) { _ in nil }
  private var outputPorts: InlineArray<32, SimulatedOutputPort?> = InlineArray(first: nil) { _ in nil }
  private var busy = InlineArray<32, BusyLine>(first: BusyLine()) { $0 }
  private var busyCount = 0
  private var current = -1
  /// The kernel uAPI the mock chips emulate: the record format and queue of their lines.
  public var abi: KernelABI
  /// Whether an output requested from now on writes its changes to a `SimulatedOutputPort`
  /// (`takeOutputPort`; two fds and one write per change). Off by default: the output then only
  /// remembers its value, as on the simulated board.
  public var recordsOutputs = false

  /// A system with no chips (what a host without GPIO looks like), emulating the `abi` uAPI.
  public init(abi: KernelABI = .v1) { self.abi = abi }

  /// Adds a chip `name` (`gpiochip0`) labelled `label` with `lines` lines named
  /// `<prefix><offset>` (e.g. `GPIO17`); returns its index. Traps beyond `chipCapacity`
  /// chips or `lineCapacity` lines: a test's setup error.
  @discardableResult
  public mutating func addChip(
    name: StaticString, label: StaticString, lines: Int, prefix: StaticString = "GPIO"
  ) -> Int {
    precondition(chipCount < Self.chipCapacity, "SimulatedGPIO.addChip: too many chips")
    precondition(lines >= 0 && lines <= Self.lineCapacity, "SimulatedGPIO.addChip: too many lines")
    var chip = SimulatedChip()
    chip.name = GPIOName(name)
    chip.label = GPIOName(label)
    chip.lineCount = lines
    for offset in 0..<lines {
      var lineName = GPIOName(prefix)
      lineName.append(decimal: offset)
      lineNames[chipCount * Self.lineCapacity + offset] = lineName
    }
    chips[chipCount] = chip
    chipCount += 1
    return chipCount - 1
  }

  /// Renames line `offset` of chip `chip` (empty: unnamed).
  public mutating func nameLine(chip: Int, offset: Int, _ name: GPIOName) {
    precondition(offset >= 0 && offset < Self.lineCapacity, "SimulatedGPIO.nameLine: offset out of range")
    lineNames[chip * Self.lineCapacity + offset] = name
  }

  /// Takes the port that drives `line` (a mock input requested from this system).
  public mutating func takePort(for line: borrowing InputLine) -> SimulatedInputPort? {
    for i in 0..<Self.portCapacity {
      let matches = ports[i]?.drives(path: line.source.chipPath, offset: line.source.offset) ?? false
      if matches { return ports[i].take() }
    }
    return nil
  }

  /// Takes the port that records `line`'s changes (a mock output requested from this system
  /// while `recordsOutputs` was on).
  public mutating func takeOutputPort(for line: borrowing OutputLine) -> SimulatedOutputPort? {
    for i in 0..<Self.portCapacity {
      let matches = outputPorts[i]?.drives(path: line.source.chipPath, offset: line.source.offset) ?? false
      if matches { return outputPorts[i].take() }
    }
    return nil
  }

  // MARK: GPIOSystem

  /// Nothing to load.
  public mutating func prepare() throws(GPIOError) {}

  /// No library behind the mock.
  public var libraryVersion: GPIOName { GPIOName() }

  /// Visits every chip.
  public mutating func forEachChip(_ visit: (ChipInfo) -> Void) {
    for i in 0..<chipCount { visit(Self.info(chips, i)) }
  }

  /// Opens the chip whose path is `path` (`/dev/<name>`).
  public mutating func openChip(path: GPIOName) throws(Errno) -> ChipInfo {
    for i in 0..<chipCount where Self.path(chips[i].name) == path {
      current = i
      return Self.info(chips, i)
    }
    throw .noEntry
  }

  /// The chip opened last.
  public var openedChip: ChipInfo? {
    // Always inlined: a call copied the whole mock (34 KB) to pass `self`.
    @inline(__always) get { current < 0 ? nil : Self.info(chips, current) }
  }

  /// The name of line `offset` of the opened chip.
  public mutating func lineName(offset: Int) -> GPIOName {
    guard current >= 0, offset >= 0, offset < chips[current].lineCount else { return GPIOName() }
    return lineNames[current * Self.lineCapacity + offset]
  }

  /// The consumer of line `offset` once requested here (`sensorloop`'s name).
  public mutating func lineConsumer(offset: Int) -> GPIOName {
    if let index = busyIndex(offset) { return busy[index].consumer }
    return GPIOName()
  }

  /// Makes a pipe for the line and keeps its port for `takePort`. Throws `.busy` for a line
  /// already requested, `.noSpace` when `portCapacity` ports wait.
  public mutating func requestInput(
    offset: Int, config: InputConfig, consumer: GPIOName, level: inout Bool?
  ) throws(Errno) -> LineHandle {
    try claim(offset, consumer: consumer)
    var slot = 0
    while slot < Self.portCapacity && ports[slot] != nil { slot += 1 }
    guard slot < Self.portCapacity else { throw .noSpace }
    let pipe = try FileDescriptor.pipe(nonBlocking: true)
    let readFD = pipe.read.rawValue
    let copy = try systemCall("SimulatedGPIO.requestInput: fcntl(F_DUPFD_CLOEXEC)") { cg_dup_cloexec(readFD) }
    // An unrequested mock line is low; a pull resistor requested with it sets its level.
    var physical = false
    switch config.bias {
    case .pullUp: physical = true
    case .pullDown: physical = false
    case .asIs, .disabled: break
    }
    let depth =
      abi == .v2
      ? LibgpiodSystem.grantedQueue(max(1, min(config.kernelQueue, InputConfig.maxKernelQueue)))
      : SimulatedInputPort.kernelFIFODepth
    ports[slot] = SimulatedInputPort(
      writer: pipe.write, reader: FileDescriptor(adopting: copy), chipPath: Self.path(chips[current].name),
      offset: offset, edges: config.edges, activeLow: config.activeLow, level: physical, abi: abi,
      depth: depth)
    level = physical != config.activeLow
    return LineHandle(eventFD: pipe.read, abi: abi, kernelQueue: depth)
  }

  /// Claims the line; with `recordsOutputs`, makes the pipe of its `SimulatedOutputPort`. Throws
  /// `.noSpace` when `portCapacity` output ports wait.
  public mutating func requestOutput(offset: Int, config: OutputConfig, consumer: GPIOName) throws(Errno)
    -> LineHandle
  {
    try claim(offset, consumer: consumer)
    guard recordsOutputs else { return LineHandle() }
    var slot = 0
    while slot < Self.portCapacity && outputPorts[slot] != nil { slot += 1 }
    guard slot < Self.portCapacity else { throw .noSpace }
    let pipe = try FileDescriptor.pipe(nonBlocking: true)
    outputPorts[slot] = SimulatedOutputPort(
      reader: pipe.read, chipPath: Self.path(chips[current].name), offset: offset)
    return LineHandle(changes: pipe.write)
  }

  // MARK: Internals

  /// Marks the line held by `consumer`, or throws `.busy` when someone holds it.
  private mutating func claim(_ offset: Int, consumer: GPIOName) throws(Errno) {
    guard current >= 0 else { bug("SimulatedGPIO.request: no chip opened") }
    guard offset >= 0 && offset < chips[current].lineCount else { throw .invalidArgument }
    if busyIndex(offset) != nil { throw .busy }
    guard busyCount < Self.busyCapacity else { throw .noSpace }
    busy[busyCount] = BusyLine(chip: current, offset: offset, consumer: consumer)
    busyCount += 1
  }

  private func busyIndex(_ offset: Int) -> Int? {
    for i in 0..<busyCount where busy[i].chip == current && busy[i].offset == offset { return i }
    return nil
  }

  // Static, with the chip table borrowed: a method called on the mock copied the whole mock
  // (34 KB) into the caller's frame to pass `self`, so it was inlined at each use instead.
  @inline(never)
  private static func info(_ chips: borrowing InlineArray<4, SimulatedChip>, _ i: Int) -> ChipInfo {
    ChipInfo(
      name: chips[i].name, label: chips[i].label, path: Self.path(chips[i].name),
      lineCount: chips[i].lineCount)
  }

  @inline(never)
  private static func path(_ name: GPIOName) -> GPIOName {
    var path = GPIOName("/dev/")
    path.append(name)
    return path
  }
}

/// One simulated chip.
struct SimulatedChip {
  var name = GPIOName()
  var label = GPIOName()
  var lineCount = 0
}

/// A line held by a consumer.
struct BusyLine {
  var chip = -1
  var offset = -1
  var consumer = GPIOName()
}
