// Short texts (task names, units, file paths) stored inline with a NUL after them, so records
// can carry them and C calls can take them without a String: the hot path has no heap.

import LoopCore

/// Up to `capacity - 1` bytes of UTF-8, stored inline and always NUL-terminated.
public struct InlineText<let capacity: Int>: Equatable, Sendable {
  private var storage = InlineArray<capacity, UInt8>(repeating: 0)
  /// Bytes in use.
  public private(set) var count = 0

  /// The most bytes the text holds.
  public static var maxCount: Int { capacity - 1 }

  /// The empty text.
  public init() {}

  /// A text from `bytes`; nil when longer than `maxCount` or when it contains a NUL.
  public init?<C: Collection>(bytes: C) where C.Element == UInt8 {
    if bytes.count > Self.maxCount { return nil }
    for byte in bytes {
      if byte == 0 { return nil }
      storage[count] = byte
      count += 1
    }
  }

  /// A text from a literal (trapping if it is too long: a programmer error).
  public init(_ literal: StaticString) {
    let buffer = UnsafeBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount)
    guard let text = Self(bytes: buffer) else { preconditionFailure("InlineText: literal too long") }
    self = text
  }

  /// Byte `i`.
  public subscript(i: Int) -> UInt8 { storage[i] }

  /// Whether the text is empty.
  public var isEmpty: Bool { count == 0 }

  /// Calls `body` with the text as a NUL-terminated C string.
  public func withCString<R: ~Copyable, E: Error>(_ body: (UnsafePointer<CChar>) throws(E) -> R) throws(E)
    -> R
  {
    try storage.span.withUnsafeBufferPointer { (buffer) throws(E) -> R in
      // SAFETY: `storage` holds a NUL at `count` (count < capacity) for the closure's duration;
      // CChar and UInt8 have the same layout.
      try body(UnsafeRawPointer(buffer.baseAddress!).assumingMemoryBound(to: CChar.self))
    }
  }

  public static func == (lhs: Self, rhs: Self) -> Bool {
    guard lhs.count == rhs.count else { return false }
    for i in 0..<lhs.count where lhs.storage[i] != rhs.storage[i] { return false }
    return true
  }
}

/// A task name, unit or event word (at most 31 bytes).
public typealias ShortName = InlineText<32>

/// A file path (at most 255 bytes).
public typealias FilePath = InlineText<256>
