// The v2 uAPI path, through the mock emulating it: `struct gpio_v2_line_event` records in the
// one decode path, exact loss accounting from `line_seqno`, a kernel queue sized per line that
// drops the oldest edge, reads that leave what does not fit in the kernel's queue, and how v1
// does the same things differently. Deterministic: every edge is scripted with its timestamp.

import CGPIOD
import LoopCore
import LoopGPIO
import LoopLinux
import LoopTesting
import Testing

/// A Pi 4's header chip on a mock emulating the v2 uAPI.
private func pi4v2() -> SimulatedGPIO {
  var mock = SimulatedGPIO(abi: .v2)
  mock.addChip(name: "gpiochip0", label: "pinctrl-bcm2711", lines: 58)
  return mock
}

/// An input line over a fresh pipe taking raw v2 records, and the pipe's write end.
private struct RawV2Line: ~Copyable {
  var line: InputLine
  let writer: FileDescriptor

  init(edges: EdgeDetection = .both, initialLevel: Bool? = false) throws {
    let pipe = try FileDescriptor.pipe(nonBlocking: true)
    writer = pipe.write
    let source = LineSource(
      chipName: GPIOName("gpiochip0"), chipLabel: GPIOName("test"), chipPath: GPIOName("/dev/gpiochip0"),
      offset: 3, name: GPIOName("RAW"), matched: 0)
    line = InputLine(
      LineHandle(eventFD: pipe.read, abi: .v2, kernelQueue: 16),
      config: InputConfig(interrupt: Interrupt(8), edges: edges), source: source, initialLevel: initialLevel)
  }

  /// Writes one v2 record per (edge, timestamp, line_seqno).
  func write(_ records: [(Edge, Int64, UInt32)]) throws {
    var bytes: [UInt8] = []
    for (edge, nanoseconds, seqno) in records {
      var record = gpio_v2_line_event()
      record.timestamp_ns = UInt64(bitPattern: nanoseconds)
      record.id = edge == .rising ? 1 : 2
      record.offset = 3
      record.seqno = seqno
      record.line_seqno = seqno
      withUnsafeBytes(of: record) { bytes.append(contentsOf: $0) }
    }
    let written = try bytes.withUnsafeBytes { try writer.write($0) }
    #expect(written == bytes.count)
  }

  mutating func takeAll() -> [EdgeEvent] {
    var events: [EdgeEvent] = []
    while let event = line.next() { events.append(event) }
    return events
  }
}

/// Drives `port` through `count` alternating edges 10 µs apart from `start` (the first a rise
/// from low), flushing each, with nobody reading the line.
private func drive(_ port: inout SimulatedInputPort, _ count: Int, from start: Int64 = 1000) {
  for i in 0..<count {
    port.drive(i % 2 == 0, at: us(start + Int64(i) * 10))
  }
}

@Suite struct V2Tests {
  /// The record the v2 kernel writes and the mock copies: 48 bytes, laid out as
  /// `struct gpio_v2_line_event` (CGPIOD.h asserts the same at compile time, on every target).
  @Test func recordIsTheKernels48Bytes() {
    #expect(MemoryLayout<gpio_v2_line_event>.size == 48)
    #expect(MemoryLayout<gpio_v2_line_event>.stride == 48)
    #expect(MemoryLayout<gpio_v2_line_event>.offset(of: \.id) == 8)
    #expect(MemoryLayout<gpio_v2_line_event>.offset(of: \.offset) == 12)
    #expect(MemoryLayout<gpio_v2_line_event>.offset(of: \.seqno) == 16)
    #expect(MemoryLayout<gpio_v2_line_event>.offset(of: \.line_seqno) == 20)
  }

  /// Edges driven on a v2 mock line come out of the one decode path in order with their
  /// timestamps, numbered by the kernel, nothing lost; the line says what it was given.
  @Test func edgesArriveThroughTheV2DecodePath() throws {
    var mock = pi4v2()
    let line = try mock.requestInput(
      LineSelector("GPIO17"), on: header, InputConfig(interrupt: Interrupt(8), kernelQueue: 100))
    var port = mock.takePort(for: line)!
    var input = line
    #expect(input.abi == .v2)
    #expect(input.kernelQueue == 128)  // the kernel rounds the queue up to a power of two
    #expect(port.depth == 128)
    let inKernel = input.debouncedInKernel
    #expect(!inKernel)  // the mock kernel does not debounce
    port.drive(true, at: us(100))
    port.drive(false, at: us(250))
    port.drive(true, at: us(400))
    #expect(input.readAvailable() == 3)
    var events: [EdgeEvent] = []
    while let event = input.next() { events.append(event) }
    #expect(
      events == [
        EdgeEvent(.rising, at: us(100)), EdgeEvent(.falling, at: us(250)), EdgeEvent(.rising, at: us(400)),
      ])
    #expect(input.lastSeqno == 3)
    #expect(input.counters.lost == 0)
    #expect(port.counters.eventsWritten == 3)
  }

  /// v2's full queue drops the OLDEST edges, and the gap in `line_seqno` counts them exactly.
  /// The same burst on v1 keeps the oldest 16, drops the newest, and the lost count cannot see
  /// it (24 lost, an even number, the levels still alternate).
  @Test func overflowDropsTheOldestAndIsCountedExactly() throws {
    var mock = pi4v2()
    var v2 = try mock.requestInput(
      LineSelector("GPIO17"), on: header, InputConfig(interrupt: Interrupt(8), kernelQueue: 16))
    var port = mock.takePort(for: v2)!
    drive(&port, 40)
    #expect(port.counters.kernelDropped == 24)
    #expect(v2.readAvailable() == 16)
    var events: [EdgeEvent] = []
    while let event = v2.next() { events.append(event) }
    // The newest 16 are kept: edges 24 ... 39.
    #expect(events.count == 16)
    #expect(events.first == EdgeEvent(.rising, at: us(1000 + 24 * 10)))
    #expect(events.last == EdgeEvent(.falling, at: us(1000 + 39 * 10)))
    #expect(v2.counters.lost == 24)
    #expect(v2.counters.edges == 16)

    var old = pi4()
    var v1 = try old.requestInput(LineSelector("GPIO17"), on: header, InputConfig(interrupt: Interrupt(9)))
    var oldPort = old.takePort(for: v1)!
    drive(&oldPort, 40)
    #expect(oldPort.counters.kernelDropped == 24)
    #expect(v1.readAvailable() == 16)
    var oldEvents: [EdgeEvent] = []
    while let event = v1.next() { oldEvents.append(event) }
    #expect(oldEvents.first == EdgeEvent(.rising, at: us(1000)))
    #expect(oldEvents.last == EdgeEvent(.falling, at: us(1000 + 15 * 10)))
    #expect(v1.counters.lost == 0)
  }

  /// A burst bigger than the line's own queue (32) waits in a sized kernel queue: reads take
  /// only what fits, and draining the line takes every edge, none lost or overflowed.
  @Test func aSizedQueueKeepsABurstUntilItIsRead() throws {
    var mock = pi4v2()
    var line = try mock.requestInput(
      LineSelector("GPIO17"), on: header, InputConfig(interrupt: Interrupt(8), kernelQueue: 256))
    var port = mock.takePort(for: line)!
    drive(&port, 200)
    #expect(port.counters.kernelDropped == 0)
    #expect(line.readAvailable() == EdgeQueue.capacity)
    #expect(line.queued == EdgeQueue.capacity)
    var taken = 0
    var level = false
    while true {
      while let event = line.next() {
        // Levels alternate: nothing was dropped anywhere.
        #expect(event.edge.level == !level)
        level = event.edge.level
        taken += 1
      }
      if line.readAvailable() == 0 { break }
    }
    #expect(taken == 200)
    #expect(line.counters.lost == 0)
    #expect(line.counters.overflowed == 0)
    #expect(line.counters.delivered == 200)
  }

  /// Through a task on the virtual clock: one interrupt for a 200-edge backlog in the kernel's
  /// queue. The task's poll reads on without waiting for another interrupt (edge-triggered epoll
  /// would raise none: nothing new arrives), so it takes all 200.
  @Test func oneInterruptDrainsABacklogBiggerThanTheLinesQueue() throws {
    var mock = pi4v2()
    var world = EdgeWorld()
    let line = try mock.requestInput(
      LineSelector("GPIO17"), on: header, InputConfig(interrupt: Interrupt(8), kernelQueue: 256))
    var port = mock.takePort(for: line)!
    _ = world.add(line)
    drive(&port, 200)
    var executor = VirtualExecutor(platform: VirtualPlatform())
    try executor.spawn(.reader)
    executor.platform.raise(Interrupt(8))
    executor.runUntilStalled(&world)
    #expect(world.seen.count == 200)
    #expect(world.seen.first?.description == "0:R@1000000")
    #expect(world.seen.last?.description == "0:F@2990000")
    #expect(world.counters(0).lost == 0)
    #expect(world.counters(0).overflowed == 0)
  }

  /// The same burst on a v1 line: the kernel FIFO keeps 16 and drops the newest.
  @Test func theSameBurstOnV1LosesWhatOverflows16() throws {
    var mock = pi4()
    var line = try mock.requestInput(LineSelector("GPIO17"), on: header, InputConfig(interrupt: Interrupt(8)))
    var port = mock.takePort(for: line)!
    drive(&port, 200)
    #expect(port.counters.kernelDropped == 184)
    #expect(line.readAvailable() == 16)
    #expect(line.kernelQueue == 16)
  }

  /// Sequence numbers: the kernel numbers a request's edges from 1, so edges dropped before the
  /// first read count; a gap counts exactly what is missing, across the u32 wrap too; a record
  /// with the same level as the last one is no loss on v2 (only the numbers count).
  @Test func sequenceNumberGapsAreCountedExactlyAcrossTheWrap() throws {
    var start = try RawV2Line()
    try start.write([(.falling, 10, 3)])
    #expect(start.line.readAvailable() == 1)
    #expect(start.line.counters.lost == 2)

    var raw = try RawV2Line()
    try raw.write([(.rising, 5, 1)])
    #expect(raw.line.readAvailable() == 1)
    // A number far behind (here: ahead by more than 2^31) is not counted as a loss.
    try raw.write([(.rising, 10, 0xFFFF_FFFD), (.falling, 20, 0xFFFF_FFFE)])
    #expect(raw.line.readAvailable() == 2)
    #expect(raw.line.counters.lost == 0)
    // 0xFFFF_FFFF, 0 and 1 were dropped by the kernel: three lost.
    try raw.write([(.rising, 60, 2)])
    #expect(raw.line.readAvailable() == 1)
    #expect(raw.line.counters.lost == 3)
    // Consecutive again: no loss, even with the same level as the last (an odd gap's level).
    try raw.write([(.rising, 70, 3), (.falling, 80, 4)])
    #expect(raw.line.readAvailable() == 2)
    #expect(raw.line.counters.lost == 3)
    #expect(raw.takeAll().count == 6)
    #expect(raw.line.lastSeqno == 4)
  }

  /// Less than one v2 record is a read error (EIO, as libgpiod says), never a crash; a partial
  /// record after whole ones is dropped with them (as libgpiod does).
  @Test func aPartialRecordIsAReadError() throws {
    var raw = try RawV2Line()
    let half = [UInt8](repeating: 0, count: 24)
    try raw.write([(.rising, 10, 1)])
    _ = try half.withUnsafeBytes { try raw.writer.write($0) }
    #expect(raw.line.readAvailable() == 1)
    #expect(raw.line.counters.readErrors == 0)
    _ = try half.withUnsafeBytes { try raw.writer.write($0) }
    #expect(raw.line.readAvailable() == 0)
    #expect(raw.line.counters.readErrors == 1)
    #expect(raw.line.lastError == .ioError)
  }

  /// Debounce on v2: the mock kernel has none, so a mock line debounces in software exactly as
  /// on v1 (a bounce burst is one event). On a real v2 line the window goes to the kernel
  /// (`debounce_period_us`) and the filter's window is zero (checked on gpio-sim).
  @Test func mockV2LinesDebounceInSoftware() throws {
    var mock = pi4v2()
    var line = try mock.requestInput(
      LineSelector("GPIO17"), on: header,
      InputConfig(interrupt: Interrupt(8), debounce: .milliseconds(5)))
    var port = mock.takePort(for: line)!
    #expect(line.filter.window == .milliseconds(5))
    let guesses = line.filter.guessesLoss
    #expect(!guesses)
    for (i, t) in [0, 100, 200, 300, 400].enumerated() { port.drive(i % 2 == 0, at: us(Int64(t))) }
    line.readAvailable()
    line.settle(at: ms(10))
    var events: [EdgeEvent] = []
    while let event = line.next() { events.append(event) }
    #expect(events == [EdgeEvent(.rising, at: us(0))])
    #expect(line.counters.debouncedAway == 4)
  }

  /// The kernel's queue size: asked sizes round up to a power of two, at most 1024.
  @Test func grantedQueueSizes() {
    #expect(LibgpiodSystem.grantedQueue(1) == 1)
    #expect(LibgpiodSystem.grantedQueue(16) == 16)
    #expect(LibgpiodSystem.grantedQueue(17) == 32)
    #expect(LibgpiodSystem.grantedQueue(256) == 256)
    #expect(LibgpiodSystem.grantedQueue(1000) == 1024)
    #expect(InputConfig().kernelQueue == 256)
  }

  /// The missing-chip message lists a chip reached twice (the Pi 5's gpiochip4 symlink to
  /// gpiochip0) once.
  @Test func aChipSeenTwiceIsListedOnce() throws {
    var mock = SimulatedGPIO(abi: .v2)
    mock.addChip(name: "gpiochip0", label: "pinctrl-rp1", lines: 54)
    mock.addChip(name: "gpiochip0", label: "pinctrl-rp1", lines: 54)
    do {
      _ = try mock.openChip(.label(GPIOName("pinctrl-bcm2711")))
      Issue.record("found a chip that is not there")
    } catch {
      #expect(
        text(error)
          == "gpio: no chip labelled \"pinctrl-bcm2711\"; chips: gpiochip0 [pinctrl-rp1] (54 lines)")
    }
  }
}

extension InputConfig {
  /// A config for tests that only look at its defaults.
  init() { self.init(interrupt: Interrupt(8)) }
}
