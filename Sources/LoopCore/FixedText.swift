// Fixed-capacity text: GPIO names and paths, task names and units, one-line error messages.
// Built from string literals, C strings and bytes without allocating, so every module on the
// board can use it under `-no-allocations`.

/// UTF-8 text of at most `capacity - 1` bytes stored inline, always NUL-terminated for C.
///
/// Appending past the capacity keeps what fits and sets `truncated`, never traps: names come
/// from the kernel and from config files, and an over-long one is reported, not fatal.
public struct FixedText<let capacity: Int>: Equatable, Sendable {
  private var storage = InlineArray<capacity, UInt8>(repeating: 0)
  /// Bytes in use (the NUL terminator not counted).
  public private(set) var count = 0
  /// Whether an append did not fit.
  public private(set) var truncated = false

  /// Empty text.
  public init() {}

  /// The bytes of a string literal.
  @inline(never)
  public init(_ literal: StaticString) { append(literal) }

  /// The bytes of a NUL-terminated C string (empty for nil).
  public init(cString: UnsafePointer<CChar>?) { append(cString: cString) }

  /// A copy of `bytes`.
  public init(bytes: UnsafeBufferPointer<UInt8>) { append(bytes: bytes) }

  /// A copy of another text, of any capacity (truncated, and marked so, if it does not fit).
  public init<let other: Int>(_ text: borrowing FixedText<other>) { append(text) }

  /// Whether the text is empty.
  public var isEmpty: Bool { count == 0 }

  /// The byte at `index` (below `count`).
  public subscript(index: Int) -> UInt8 {
    precondition(index >= 0 && index < count, "FixedText.subscript: index out of range")
    // SAFETY: count < capacity, so the precondition keeps `index` inside the storage.
    return storage[unchecked: index]
  }

  /// Appends one byte if it fits (the last slot stays free for the NUL terminator).
  public mutating func append(byte: UInt8) {
    if count + 1 < capacity {
      // SAFETY: 0 <= count < capacity - 1 here.
      storage[unchecked: count] = byte
      count += 1
    } else {
      truncated = true
    }
  }

  /// Appends `bytes` (what fits; `truncated` is set if not all did).
  public mutating func append(bytes: UnsafeBufferPointer<UInt8>) { append(span: bytes.span) }

  /// Appends `bytes` (what fits; `truncated` is set if not all did).
  private mutating func append(span bytes: Span<UInt8>) {
    var target = storage.mutableSpan
    if fixedTextAppend(&target, count: &count, bytes) { truncated = true }
  }

  /// Appends a string literal.
  @inline(never)
  public mutating func append(_ literal: StaticString) {
    precondition(literal.hasPointerRepresentation, "FixedText.append: not a UTF-8 literal")
    // SAFETY: a literal with a pointer representation is `utf8CodeUnitCount` valid bytes that
    // live as long as the program.
    append(bytes: UnsafeBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount))
  }

  /// Appends a NUL-terminated C string; nothing for nil.
  @inline(never)
  public mutating func append(cString: UnsafePointer<CChar>?) {
    guard let cString else { return }
    var length = 0
    while cString[length] != 0 { length += 1 }
    // SAFETY: the `length` bytes before the NUL are the C string's, valid for this call.
    cString.withMemoryRebound(to: UInt8.self, capacity: length) {
      append(bytes: UnsafeBufferPointer(start: $0, count: length))
    }
  }

  /// Appends another text.
  public mutating func append<let other: Int>(_ text: borrowing FixedText<other>) {
    append(span: text.storage.span.extracting(0..<text.count))
  }

  /// Appends `value` in decimal.
  @inline(never)
  public mutating func append(decimal value: Int64) {
    let text = DecimalText(value)
    text.withSpan { append(span: $0) }
  }

  /// Appends `value` in decimal.
  public mutating func append(decimal value: Int) { append(decimal: Int64(value)) }

  /// Whether the text equals the literal.
  public func equals(_ literal: StaticString) -> Bool {
    // SAFETY: as in `append(_:)`, the literal's bytes live as long as the program.
    let bytes = UnsafeBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount)
    return fixedTextEqual(storage.span.extracting(0..<count), bytes.span)
  }

  /// Calls `body` with the bytes (no NUL).
  public func withBytes<R, E: Error>(_ body: (UnsafeBufferPointer<UInt8>) throws(E) -> R) throws(E)
    -> R
  {
    let n = count
    return try storage.span.withUnsafeBufferPointer { (all) throws(E) -> R in
      // SAFETY: the first `count` bytes of the storage are initialised and live for the closure.
      try body(UnsafeBufferPointer(rebasing: all[0..<n]))
    }
  }

  /// Calls `body` with the text as a NUL-terminated C string.
  public func withCString<R: ~Copyable, E: Error>(_ body: (UnsafePointer<CChar>) throws(E) -> R) throws(E)
    -> R
  {
    // Every byte from `count` on is zero (appends only ever fill below capacity - 1), so the
    // storage is already NUL-terminated.
    try storage.span.withUnsafeBufferPointer { (all) throws(E) -> R in
      // SAFETY: the storage is NUL-terminated at `count` (< capacity) and lives for the
      // closure; CChar and UInt8 have the same layout.
      let chars = UnsafeRawPointer(all.baseAddress!).assumingMemoryBound(to: CChar.self)
      return try body(chars)
    }
  }

  /// Whether both hold the same bytes (capacity and `truncated` aside).
  @inline(never)
  public static func == (lhs: FixedText, rhs: FixedText) -> Bool {
    fixedTextEqual(lhs.storage.span.extracting(0..<lhs.count), rhs.storage.span.extracting(0..<rhs.count))
  }
}

// The work of every `FixedText<n>`, written once: a generic method specialised for each
// capacity would otherwise be compiled once per capacity (ten in the board binary).

/// Appends what fits of `bytes` to the text in `storage` (its first `count` bytes); the last
/// byte stays free for the NUL. Returns whether some did not fit.
@inline(never)
package func fixedTextAppend(_ storage: inout MutableSpan<UInt8>, count: inout Int, _ bytes: Span<UInt8>)
  -> Bool
{
  var n = count
  let limit = storage.count - 1
  for i in 0..<bytes.count {
    guard n < limit else {
      count = n
      return true
    }
    storage[n] = bytes[i]
    n += 1
  }
  count = n
  return false
}

/// Whether `a` and `b` hold the same bytes.
@inline(never)
package func fixedTextEqual(_ a: Span<UInt8>, _ b: Span<UInt8>) -> Bool {
  guard a.count == b.count else { return false }
  for i in 0..<a.count where a[i] != b[i] { return false }
  return true
}
