// Short names (task names, units, event words) stored inline, so records can carry them
// without a String: the hot path has no heap.

/// Up to `ShortName.capacity` bytes of UTF-8, stored inline.
public struct ShortName: Equatable, Sendable {
  /// The most bytes a name holds; longer names are refused by the config checks.
  public static let capacity = 31

  private var storage = InlineArray<31, UInt8>(repeating: 0)
  /// Bytes in use.
  public private(set) var count = 0

  /// The empty name.
  public init() {}

  /// A name from `bytes`; nil when longer than `capacity`.
  public init?<C: Collection>(bytes: C) where C.Element == UInt8 {
    if bytes.count > ShortName.capacity { return nil }
    for byte in bytes {
      storage[count] = byte
      count += 1
    }
  }

  /// A name from a literal (trapping if it is too long: a programmer error).
  public init(_ literal: StaticString) {
    let buffer = UnsafeBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount)
    guard let name = ShortName(bytes: buffer) else { preconditionFailure("ShortName: literal too long") }
    self = name
  }

  /// Byte `i`.
  public subscript(i: Int) -> UInt8 { storage[i] }

  /// Whether the name is empty.
  public var isEmpty: Bool { count == 0 }

  public static func == (lhs: ShortName, rhs: ShortName) -> Bool {
    guard lhs.count == rhs.count else { return false }
    for i in 0..<lhs.count where lhs.storage[i] != rhs.storage[i] { return false }
    return true
  }
}
