// libFuzzer target: the GPIO edge-event decode path over arbitrary bytes.
//
// The input configures one `InputLine` over a pipe (as the mock backend makes them) and then
// scripts what happens to it: bytes written into the pipe (whole `struct gpioevent_data`
// records, partial records, garbage ids and timestamps), `readAvailable()` drains through the
// v1 decode path (reads with the short-read rules of libgpiod's
// `gpiod_line_event_read_fd_multiple`), the filter and the queue, tasks taking events,
// and debounce windows settling. A plain model of the pipe and of libgpiod's read runs beside
// it, and after every step the line's counters must agree with it:
//
//   edges == records the model decoded          readErrors == short reads the model saw
//   edges == delivered + queued + overflowed + debouncedAway     queued <= EdgeQueue.capacity
//   lost  == same-level repeats in the decoded records (both-edges lines), else 0
//   delivered events are a subsequence of the decoded records (edge and timestamp)
//   with debounce on a both-edges line, delivered levels alternate until the queue overflows
//
// Input layout (so the seeds in Tests/Fuzz/seeds/gpio stay readable; see make-gpio-seeds):
//   byte 0   edges = byte % 3 (both, rising, falling); initial level = byte / 3 % 3
//            (unknown, low, high)
//   byte 1   debounce: 0 off, 255 Int64.max ns, else (byte 2 + 1) * 10^(byte % 10) ns
//   byte 2   debounce mantissa
//   then ops, one byte each, low 2 bits the kind, high 6 bits `k`:
//     0  write the next k + 1 input bytes into the pipe
//     1  readAvailable()
//     2  take k events (k = 0: every queued event)
//     3  settle at the last raw edge's time + k/16 of the window (k = 63: the distant future)
//   At the end the writer closes, the line drains to end of file, everything settles and is
//   taken, and the invariants are checked once more.

import CGPIOD
import Glibc
import LoopCore
import LoopGPIO
import LoopLinux

/// The pipe's content and libgpiod's read, as plain Swift: what the line must have decoded.
struct Model {
  static let recordSize = 16
  static let batchBytes = 16 * recordSize
  /// Bytes written and not yet read.
  var pipe: [UInt8] = []
  var head = 0
  /// Every record libgpiod decoded, in order.
  var decoded: [EdgeEvent] = []
  /// Whether the line tracks its level (both edges), and the level after the last record.
  let tracksLevel: Bool
  var level: Bool?
  /// Records of the same level as the one before (a both-edges line's lost edges).
  var repeats: UInt64 = 0
  /// Reads that took fewer bytes than one record (libgpiod: EIO).
  var shortReads: UInt64 = 0
  var writerClosed = false

  /// One `gpiod_line_event_read_fd_multiple(fd, events, 16)`: the number of events, or nil
  /// for "would block" (nothing in an open pipe) and for EIO.
  mutating func readBatch() -> Int? {
    let available = pipe.count - head
    if available == 0 && !writerClosed { return nil }
    let taken = min(available, Self.batchBytes)
    let bytes = pipe[head..<(head + taken)]
    head += taken
    if taken < Self.recordSize {
      shortReads += 1
      return nil
    }
    // A trailing partial record is read and dropped with the whole ones, as libgpiod does.
    let count = taken / Self.recordSize
    for i in 0..<count {
      let base = bytes.startIndex + i * Self.recordSize
      var timestamp: UInt64 = 0
      for b in 0..<8 { timestamp |= UInt64(bytes[base + b]) << (8 * UInt64(b)) }
      var id: UInt32 = 0
      for b in 0..<4 { id |= UInt32(bytes[base + 8 + b]) << (8 * UInt32(b)) }
      let edge: Edge = id == UInt32(GPIOEVENT_EVENT_RISING_EDGE) ? .rising : .falling
      decoded.append(EdgeEvent(edge, at: Instant(nanoseconds: Int64(bitPattern: timestamp))))
      if tracksLevel {
        if level == edge.level { repeats += 1 }
        level = edge.level
      }
    }
    return count
  }

  /// What `InputLine.readAvailable` does: batches until one comes back short.
  mutating func readAvailable() -> Int {
    var total = 0
    while let n = readBatch() {
      total += n
      if n < 16 { break }
    }
    return total
  }
}

/// Reads input bytes front to back.
struct Cursor {
  let bytes: UnsafeBufferPointer<UInt8>
  var index = 0
  var atEnd: Bool { index >= bytes.count }
  mutating func next() -> UInt8 {
    if atEnd { return 0 }
    defer { index += 1 }
    return bytes[index]
  }
}

func check(_ condition: Bool, _ what: StaticString) {
  if !condition { fatalError("GPIO fuzz invariant: \(what)") }
}

/// The harness around one line: the line itself, the pipe's write end, the model, and what
/// the task has taken.
struct Harness: ~Copyable {
  var line: InputLine
  var writer: FileDescriptor?
  var model: Model
  var readTotal = 0
  /// Events the task took.
  var delivered = 0
  /// Where the last delivered event was found in `model.decoded`.
  var matched = 0
  /// The level of the last delivered event (from the line's initial level).
  var deliveredLevel: Bool?

  /// Checks an invariant; on failure prints the line's counters and filter with the message.
  func expect(_ condition: Bool, _ what: StaticString) {
    if condition { return }
    print("counters: \(line.counters)\nfilter: \(line.filter)\nqueued: \(line.queued)")
    fflush(nil)
    fatalError("GPIO fuzz invariant: \(what)")
  }

  mutating func write(_ bytes: [UInt8]) {
    if bytes.isEmpty { return }
    model.pipe.append(contentsOf: bytes)
    bytes.withUnsafeBytes { raw in
      // SAFETY: `raw` covers the slice for the call; the input is at most a few KiB, far below
      // the pipe's 64 KiB, so one write takes it all.
      do {
        let written = try writer!.write(raw)
        check(written == raw.count, "short pipe write")
      } catch {
        fatalError("pipe write failed")
      }
    }
  }

  mutating func readAvailable() {
    let got = line.readAvailable()
    let expected = model.readAvailable()
    expect(got == expected, "readAvailable count differs from the model")
    readTotal += got
  }

  mutating func take(_ count: Int) {
    var taken = 0
    while count == 0 || taken < count {
      guard let event = line.next() else { break }
      delivered += 1
      taken += 1
      // Delivered events are decoded records, in order (debounce and overflow only remove).
      while matched < model.decoded.count && model.decoded[matched] != event { matched += 1 }
      expect(matched < model.decoded.count, "a delivered event is not a decoded record, in order")
      matched += 1
      if line.config.edges == .both && line.config.debounce > .zero && line.counters.overflowed == 0 {
        // Debounce reports level changes only: the task sees the level alternate (unless the
        // queue dropped one: the filter reported it, the task never saw it; it is counted).
        expect(deliveredLevel != event.edge.level, "debounced line delivered the same level twice")
      }
      deliveredLevel = event.edge.level
    }
  }

  mutating func settle(step k: Int) {
    let window = line.filter.window.nanoseconds
    let at: Instant
    if k == 63 {
      at = .distantFuture
    } else {
      let (offset, overflow) = (max(window, 0) / 16).multipliedReportingOverflow(by: Int64(k))
      at = line.filter.rawTime + Duration(nanoseconds: overflow ? .max : offset)
    }
    line.settle(at: at)
  }

  func verify() {
    let c = line.counters
    expect(c.edges == UInt64(readTotal), "edges differ from events read")
    expect(c.edges == UInt64(model.decoded.count), "edges differ from records decoded")
    expect(c.readErrors == model.shortReads, "read errors differ from short reads")
    expect(line.queued <= EdgeQueue.capacity, "queue over capacity")
    expect(c.delivered == UInt64(delivered), "delivered differs from events taken")
    expect(
      c.edges == c.delivered + UInt64(line.queued) + c.overflowed + c.debouncedAway,
      "edges are not delivered + queued + overflowed + debounced")
    expect(c.reads <= c.edges, "more reads than edges")
    // Lost edges: two of the same kind in a row on a both-edges line, from the initial level.
    expect(c.lost == model.repeats, "lost differs from repeated levels")
    if line.config.debounce <= .zero {
      expect(c.debouncedAway == 0, "debounce off but edges debounced")
      if c.overflowed == 0 {
        expect(delivered + line.queued == model.decoded.count, "events missing with debounce off")
      }
    }
  }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzGPIOEvents(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
  // SAFETY: libFuzzer passes `size` readable bytes at `data` for the duration of the call.
  var input = Cursor(bytes: UnsafeBufferPointer(start: data, count: size))
  let mode = input.next()
  let edges: EdgeDetection = [.both, .rising, .falling][Int(mode % 3)]
  let initialLevel: Bool? = [nil, false, true][Int(mode / 3 % 3)]
  let scale = input.next()
  let mantissa = Int64(input.next()) + 1
  var window: Int64 = 0
  if scale == 255 {
    window = .max
  } else if scale != 0 {
    window = mantissa
    for _ in 0..<(scale % 10) { window *= 10 }
  }
  let config = InputConfig(interrupt: Interrupt(8), edges: edges, debounce: .nanoseconds(window))

  let pipe: Pipe
  do { pipe = try FileDescriptor.pipe(nonBlocking: true) } catch { fatalError("pipe failed") }
  let readEnd = pipe.read
  let writeEnd = pipe.write
  let source = LineSource(
    chipName: GPIOName("gpiochip0"), chipLabel: GPIOName("fuzz"), chipPath: GPIOName("/dev/gpiochip0"),
    offset: 0, name: GPIOName("FUZZ"), matched: 0)
  let knownLevel = edges == .both ? initialLevel : nil
  var harness = Harness(
    line: InputLine(LineHandle(eventFD: readEnd), config: config, source: source, initialLevel: initialLevel),
    writer: .some(writeEnd), model: Model(tracksLevel: edges == .both, level: knownLevel),
    deliveredLevel: knownLevel)

  while !input.atEnd {
    let op = input.next()
    let k = Int(op >> 2)
    switch op & 3 {
    case 0:
      let start = input.index
      let end = min(start + k + 1, size)
      input.index = end
      harness.write(Array(UnsafeBufferPointer(rebasing: input.bytes[start..<end])))
    case 1: harness.readAvailable()
    case 2: harness.take(k)
    default: harness.settle(step: k)
    }
    harness.verify()
  }

  // The writer goes away: the line drains what is left and then reads end of file (EIO).
  do { try harness.writer.take()!.close() } catch { fatalError("close failed") }
  harness.model.writerClosed = true
  harness.readAvailable()
  harness.settle(step: 63)
  harness.take(0)
  harness.verify()
  check(harness.model.head == harness.model.pipe.count, "bytes left unread after end of file")
  return 0
}
