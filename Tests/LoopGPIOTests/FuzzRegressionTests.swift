// Regression tests from the GPIO decode-path fuzzer (Tests/Fuzz/GPIOEventFuzz.swift): what it
// found, replayed as raw `struct gpioevent_data` records written into a line's pipe, read by
// `readAvailable()` exactly as the fuzzer (and the mock backend's v1 lines) do.

import LoopCore
import LoopGPIO
import LoopLinux
import Testing

/// An input line over a fresh pipe, and the pipe's write end.
private struct RawLine: ~Copyable {
  var line: InputLine
  let writer: FileDescriptor

  init(edges: EdgeDetection, debounce: Duration, initialLevel: Bool?) throws {
    let pipe = try FileDescriptor.pipe(nonBlocking: true)
    let reader = pipe.read
    writer = pipe.write
    let source = LineSource(
      chipName: GPIOName("gpiochip0"), chipLabel: GPIOName("test"), chipPath: GPIOName("/dev/gpiochip0"),
      offset: 0, name: GPIOName("RAW"), matched: 0)
    line = InputLine(
      LineHandle(eventFD: reader),
      config: InputConfig(interrupt: Interrupt(8), edges: edges, debounce: debounce),
      source: source, initialLevel: initialLevel)
  }

  /// Writes one kernel record per edge: u64 timestamp, u32 id (1 rising, 2 falling), padding.
  func write(_ edges: [(Edge, Int64)]) throws {
    var bytes: [UInt8] = []
    for (edge, nanoseconds) in edges {
      withUnsafeBytes(of: UInt64(bitPattern: nanoseconds).littleEndian) { bytes.append(contentsOf: $0) }
      withUnsafeBytes(of: UInt32(edge == .rising ? 1 : 2).littleEndian) { bytes.append(contentsOf: $0) }
      bytes.append(contentsOf: [0, 0, 0, 0])
    }
    let written = try bytes.withUnsafeBytes { try writer.write($0) }
    #expect(written == bytes.count)
  }

  /// Every event the line's queue holds now.
  mutating func takeAll() -> [EdgeEvent] {
    var events: [EdgeEvent] = []
    while let event = line.next() { events.append(event) }
    return events
  }
}

@Suite struct FuzzRegressionTests {
  /// Found by fuzz-gpio (its "levels alternate on a debounced line" check, which held only
  /// until the queue overflowed): a full queue drops the newest event after the filter has
  /// reported it, so on a debounced both-edges line the task can then see the same level twice.
  /// Nothing is lost silently: the drop is in `overflowed`, and edges = delivered + overflowed.
  @Test func queueOverflowOnADebouncedLineCanRepeatALevelAndIsCounted() throws {
    var raw = try RawLine(edges: .both, debounce: .milliseconds(1), initialLevel: false)
    // 33 clean edges 10 ms apart (every one passes the 1 ms debounce), read with no task taking
    // any: the 32-event queue keeps the first 32 (R F ... R F) and drops the 33rd (R @ 330 ms).
    var edges: [(Edge, Int64)] = []
    for i in 0..<33 {
      let edge: Edge = i % 2 == 0 ? .rising : .falling
      edges.append((edge, Int64(i + 1) * 10_000_000))
    }
    try raw.write(edges)
    #expect(raw.line.readAvailable() == 33)
    #expect(raw.line.queued == EdgeQueue.capacity)
    #expect(raw.line.counters.overflowed == 1)
    let first = raw.takeAll()
    #expect(first.count == 32)
    #expect(first.last == EdgeEvent(.falling, at: Instant(nanoseconds: 320_000_000)))
    // The next edge falls: the filter last reported the dropped rise, so it passes, and the task
    // sees falling twice in a row.
    try raw.write([(.falling, 340_000_000)])
    #expect(raw.line.readAvailable() == 1)
    #expect(raw.takeAll() == [EdgeEvent(.falling, at: Instant(nanoseconds: 340_000_000))])
    let c = raw.line.counters
    #expect(c.edges == 34)
    #expect(c.delivered == 33)
    #expect(c.overflowed == 1)
    #expect(c.lost == 0)
    #expect(c.debouncedAway == 0)
    #expect(c.edges == c.delivered + c.overflowed + c.debouncedAway)
  }
}
