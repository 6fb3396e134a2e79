// The JSON-lines output: tasks format a record into a fixed line buffer and append it whole to
// a fixed byte ring (as it is, or as InfluxDB line protocol: OutputInflux.swift); the writer task drains the ring to the output fd when it is writable.
// A full ring drops the record and counts it: never a stall, never silent loss, no heap.

import LoopCore
import LoopGPIO

/// One JSON object being built: `{"t_ns":…,"wall_ns":…,"task":"…", …}` plus a newline.
public struct RecordLine: ByteAppending {
  /// The longest line a record may take; a longer one is dropped and counted as truncated.
  /// (256 until `wall_ns` took 30 bytes of every record.)
  public static let capacity = 320

  private var bytes = InlineArray<320, UInt8>(repeating: 0)
  /// Bytes written so far.
  public private(set) var count = 0
  /// Whether something did not fit (the record is then not emitted).
  public private(set) var overflowed = false

  /// A record stamped `time` (monotonic) and `wall` (Unix nanoseconds, CLOCK_REALTIME) for
  /// `task`. `wall_ns` comes right after `t_ns`, so `"task":"…","event":"…"` stay side by side.
  public init(time: Instant, wall: Int64, task: ShortName) {
    append("{\"t_ns\":")
    append(integer: time.nanoseconds)
    append(",\"wall_ns\":")
    append(integer: wall)
    append(",\"task\":")
    append(quoted: task)
  }

  /// Adds `,"key":"value"`.
  @inline(never)
  public mutating func field(_ key: StaticString, _ value: ShortName) {
    appendKey(key)
    append(quoted: value)
  }

  /// Adds `,"key":"value"` for a literal value.
  @inline(never)
  public mutating func field(_ key: StaticString, _ value: StaticString) {
    appendKey(key)
    append(byte: 0x22)
    append(value)
    append(byte: 0x22)
  }

  /// Adds `,"key":123`.
  @inline(never)
  public mutating func field(_ key: StaticString, integer value: Int64) {
    appendKey(key)
    append(integer: value)
  }

  /// Adds `,"key":12.345` with `decimals` digits after the point (rounded half away from zero);
  /// a value that is not finite is written as `null`, which JSON has for it.
  @inline(never)
  public mutating func field(_ key: StaticString, _ value: Double, decimals: Int) {
    appendKey(key)
    append(decimal: value, decimals: decimals)
  }

  /// Adds `,"key":true` or `false`.
  @inline(never)
  public mutating func field(_ key: StaticString, bool value: Bool) {
    appendKey(key)
    append(value ? "true" : "false")
  }

  /// Adds `,"key":"text"` with `text` (UTF-8) escaped as JSON does, cut short with `...` at a
  /// character boundary where the whole would not leave room to close the record: a message
  /// of any length still makes one whole line.
  public mutating func field(_ key: StaticString, text: Span<UInt8>) {
    appendKey(key)
    append(byte: 0x22)
    // Room kept for `..."` and the `}` and newline of `finish`.
    let limit = RecordLine.capacity - 6
    var i = 0
    while i < text.count {
      let b = text[i]
      var width = 1
      if b >= 0xF0 { width = 4 } else if b >= 0xE0 { width = 3 } else if b >= 0xC0 { width = 2 }
      let escaped = width == 1 ? JSONEscape.width(of: b) : width
      if count + escaped > limit || i + width > text.count {
        append("...")
        break
      }
      if width == 1 {
        JSONEscape.escape(b) { append(byte: $0) }
      } else {
        for k in 0..<width { append(byte: text[i + k]) }
      }
      i += width
    }
    append(byte: 0x22)
  }

  /// Closes the object and ends the line.
  @inline(never)
  public mutating func finish() { append("}\n") }

  /// The bytes of the line.
  public func withBytes<R>(_ body: (Span<UInt8>) -> R) -> R {
    body(bytes.span.extracting(0..<count))
  }

  @inline(never)
  private mutating func appendKey(_ key: StaticString) {
    append(",\"")
    append(key)
    append("\":")
  }

  public mutating func append(byte: UInt8) {
    if count >= RecordLine.capacity {
      overflowed = true
      return
    }
    // SAFETY: 0 <= count < capacity here (count only grows from 0, by one, below capacity).
    bytes[unchecked: count] = byte
    count += 1
  }

  /// Writes a JSON string, escaping quotes, backslashes and control bytes.
  @inline(never)
  private mutating func append(quoted name: ShortName) {
    append(byte: 0x22)
    for i in 0..<name.count { JSONEscape.escape(name[i]) { append(byte: $0) } }
    append(byte: 0x22)
  }
}

/// Something bytes can be appended to one at a time; gives it literal, name and number
/// formatting with no heap (records, the summary).
public protocol ByteAppending {
  /// Appends one byte (a full sink drops it and remembers).
  mutating func append(byte: UInt8)
}

extension ByteAppending {
  /// Appends `bytes`, one at a time (the one loop over `append(byte:)` each sink has).
  @inline(never)
  public mutating func append(bytes: Span<UInt8>) {
    for i in 0..<bytes.count { append(byte: bytes[i]) }
  }

  /// Appends a literal.
  @inline(never)
  public mutating func append(_ text: StaticString) {
    // SAFETY: a literal's `utf8CodeUnitCount` bytes from `utf8Start` live as long as the program.
    append(bytes: UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount).span)
  }

  /// Appends the bytes of `text`.
  @inline(never)
  public mutating func append<let n: Int>(_ text: borrowing FixedText<n>) {
    text.withBytes { append(bytes: $0.span) }
  }

  /// Appends `value` in decimal.
  @inline(never)
  public mutating func append(integer value: Int64) {
    DecimalText(value).withSpan { append(bytes: $0) }
  }

  /// Appends `value` with `decimals` digits after the point, or `null` when not finite.
  @inline(never)
  public mutating func append(decimal value: Double, decimals: Int) {
    DecimalFraction(value, decimals: decimals).withSpan { append(bytes: $0) }
  }
}

/// A number with a fixed count of digits after the point, or `null`, as text: rendered once
/// for every sink (`ByteAppending.append(decimal:decimals:)` was specialised per sink type).
struct DecimalFraction {
  // "-", 19 digits, ".", 9 digits: 30 bytes at most.
  private var bytes = InlineArray<32, UInt8>(repeating: 0)
  private var count = 0

  /// `value` with `decimals` (held to 0…9) digits after the point, or `null` when not finite.
  @inline(never)
  init(_ value: Double, decimals: Int) {
    let places = max(0, min(decimals, 9))
    var scale = 1.0
    for _ in 0..<places { scale *= 10 }
    let scaled = (value * scale).rounded(.toNearestOrAwayFromZero)
    // Past 2^63 the digits are noise anyway; JSON has no inf/nan.
    guard scaled.isFinite, scaled.magnitude < 9.2e18 else {
      let null: StaticString = "null"
      for i in 0..<null.utf8CodeUnitCount { put(null.utf8Start[i]) }
      return
    }
    let fixed = Int64(scaled)
    if fixed < 0 { put(0x2D) }
    var power: UInt64 = 1
    for _ in 0..<places { power *= 10 }
    let whole = DecimalText(Int64(fixed.magnitude / power))
    for i in 0..<whole.count { put(whole[i]) }
    if places == 0 { return }
    put(0x2E)
    // The fraction below 10^places, zero-padded on the left to `places` digits.
    let fraction = DecimalText(fixed.magnitude % power)
    for _ in fraction.count..<places { put(0x30) }
    for i in 0..<fraction.count { put(fraction[i]) }
  }

  private mutating func put(_ byte: UInt8) {
    bytes[count] = byte
    count += 1
  }

  /// Calls `body` with the text's bytes.
  func withSpan<R>(_ body: (Span<UInt8>) -> R) -> R { body(bytes.span.extracting(0..<count)) }
}

/// A byte ring of finished record lines, filled by tasks and drained by the writer.
public struct OutputRing<let capacity: Int>: ~Copyable {
  private var ring = Ring<capacity, UInt8>(repeating: 0)
  /// Bytes waiting to be written.
  public var count: Int { ring.count }
  /// Records accepted.
  public private(set) var records: UInt64 = 0
  /// Records dropped because the ring was full.
  public private(set) var dropped: UInt64 = 0
  /// Records dropped because they did not fit in a `RecordLine`.
  public private(set) var truncated: UInt64 = 0
  private var writer = WakerRegistration()
  /// How records are written into the ring (the config's `output.format`).
  public var format = OutputFormat.json
  /// The bytes the ring may hold, at most `capacity` (a config's `ring_bytes`).
  public var limit: Int = capacity {
    didSet { limit = max(0, min(limit, capacity)) }
  }

  /// An empty ring.
  public init() {}

  /// Whether no byte waits.
  public var isEmpty: Bool { ring.isEmpty }

  /// Appends the finished `line` whole, or drops it (counted); wakes the writer. Returns
  /// whether it was accepted.
  @discardableResult
  public mutating func emit<S: Scheduler & ~Copyable>(_ line: borrowing RecordLine, _ cx: inout Context<S>)
    -> Bool
  {
    let accepted = append(line)
    if accepted { writer.wake(&cx) }
    return accepted
  }

  /// Appends the undelivered part of `text` (whole lines: a summary) whole, or nothing, and
  /// wakes the writer; not a record, so not counted as one. Returns whether it was accepted.
  @discardableResult
  public mutating func emit<S: Scheduler & ~Copyable>(text: borrowing SummaryText, _ cx: inout Context<S>)
    -> Bool
  {
    let accepted = append(text: text)
    if accepted { writer.wake(&cx) }
    return accepted
  }

  /// `emit(text:)` from outside a poll (a reload, the exit).
  @discardableResult
  public mutating func append(text: borrowing SummaryText) -> Bool {
    if limit - count < text.remaining { return false }
    return text.withRemaining { ring.push(contentsOf: $0) }
  }

  /// Appends `line` from outside a poll (startup, shutdown), in the ring's `format`; returns
  /// whether it was accepted.
  @discardableResult
  public mutating func append(_ line: borrowing RecordLine) -> Bool {
    if line.overflowed {
      truncated += 1
      return false
    }
    switch format {
    case .json:
      if limit - count < line.count {
        dropped += 1
        return false
      }
      line.withBytes { _ = ring.push(contentsOf: $0) }  // Fits: `limit` ≤ capacity.
    case .influx:
      guard let converted = line.withBytes({ InfluxLine(record: $0) }), !converted.overflowed else {
        truncated += 1
        return false
      }
      if limit - count < converted.count {
        dropped += 1
        return false
      }
      converted.withBytes { _ = ring.push(contentsOf: $0) }
    }
    records += 1
    return true
  }

  /// Forgets and returns the registered writer task: to wake it from outside a poll
  /// (`Executor.wake`) after `append`, or to drop a registration made in an executor that is
  /// gone (a ring carried over a reload).
  public mutating func takeWriter() -> Waker? { writer.take() }

  /// Registers the writer task, to be woken when bytes arrive.
  public mutating func waitForData<S: Scheduler & ~Copyable>(_ cx: inout Context<S>) -> Poll<Void> {
    if count > 0 { return .ready(()) }
    writer.register(&cx)
    return .pending
  }

  /// Hands the oldest contiguous run of waiting bytes to `write`, which returns how many it
  /// took (0 when the fd would block); removes those. Returns the bytes removed.
  public mutating func drain(_ write: (Span<UInt8>) -> Int) -> Int { ring.popRun(write) }
}
