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
    return storage[index]
  }

  /// Appends one byte if it fits (the last slot stays free for the NUL terminator).
  public mutating func append(byte: UInt8) {
    if count + 1 < capacity {
      storage[count] = byte
      count += 1
    } else {
      truncated = true
    }
  }

  /// Appends `bytes`.
  @inline(never)
  public mutating func append(bytes: UnsafeBufferPointer<UInt8>) {
    for byte in bytes { append(byte: byte) }
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
    var i = 0
    while cString[i] != 0 {
      append(byte: UInt8(bitPattern: cString[i]))
      i += 1
    }
  }

  /// Appends another text.
  @inline(never)
  public mutating func append<let other: Int>(_ text: borrowing FixedText<other>) {
    for i in 0..<text.count { append(byte: text[i]) }
  }

  /// Appends `value` in decimal.
  @inline(never)
  public mutating func append(decimal value: Int64) {
    let text = DecimalText(value)
    for i in 0..<text.count { append(byte: text[i]) }
  }

  /// Appends `value` in decimal.
  public mutating func append(decimal value: Int) { append(decimal: Int64(value)) }

  /// Whether the text equals the literal.
  public func equals(_ literal: StaticString) -> Bool { self == FixedText(literal) }

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
  public static func == (lhs: FixedText, rhs: FixedText) -> Bool {
    guard lhs.count == rhs.count else { return false }
    for i in 0..<lhs.count where lhs.storage[i] != rhs.storage[i] { return false }
    return true
  }
}
