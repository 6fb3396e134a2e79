// Fixed-capacity text (LoopCore's `FixedText`) and lists for configuration values, and the
// byte-buffer writing that error messages and the capacity plan are built with.
//
// Embedded Swift links no Unicode tables for `String` comparison or hashing, so everything a
// config names (task names, line names, units, paths) is kept as UTF-8 bytes in an
// `InlineArray` and compared byte by byte. The values are plain structs with no heap storage,
// so the task library can copy them into its tasks without allocating.

import LoopCore

/// What the validator needs of LoopCore's `FixedText` on top of what the board uses: text from
/// parsed bytes that must fit whole, comparisons with parsed bytes, and arrays for messages
/// (startup only: `bytes` allocates).
extension FixedText {
  /// The most bytes of text this type holds (one byte is kept for the NUL).
  public static var maxCount: Int { capacity - 1 }

  /// The text `bytes`, or nil when it does not fit (parsed text: one copy, no loop per byte).
  public init?(_ bytes: ArraySlice<UInt8>) {
    self.init()
    bytes.withUnsafeBufferPointer { append(bytes: $0) }
    if truncated { return nil }
  }

  /// The text `bytes`, or nil when it does not fit.
  public init?(_ bytes: some Sequence<UInt8>) {
    self.init()
    for byte in bytes { append(byte: byte) }
    if truncated { return nil }
  }

  /// The text as an array (for tests and startup code; allocates).
  @inline(never)
  public var bytes: [UInt8] { withBytes { Array($0) } }

  /// Whether the text equals `other` byte for byte.
  public func equals(_ other: ArraySlice<UInt8>) -> Bool {
    withBytes { mine in other.withUnsafeBufferPointer { fixedTextEqual(mine.span, $0.span) } }
  }

  /// Whether the text equals `other` byte for byte.
  public func equals(_ other: [UInt8]) -> Bool { equals(other[...]) }
}

/// A name: a task name, a line name or a chip label (at most 31 bytes).
public typealias Name = FixedText<32>
/// A unit for readings, such as `°C` or `km/h` (at most 15 bytes of UTF-8).
public typealias Unit = FixedText<16>
/// A file system path (at most 255 bytes).
public typealias Path = FixedText<256>
/// Free text such as the board's name (at most 63 bytes).
public typealias Label = FixedText<64>

/// A list of at most `capacity` elements kept inline (no heap storage).
public struct FixedList<let capacity: Int, Element>: Sendable where Element: Sendable {
  private var storage: InlineArray<capacity, Element?>
  /// How many elements are held.
  public private(set) var count: Int

  /// An empty list.
  public init() {
    storage = InlineArray(repeating: nil)
    count = 0
  }

  /// Whether the list holds no elements.
  public var isEmpty: Bool { count == 0 }
  /// Whether the list holds `capacity` elements.
  public var isFull: Bool { count == capacity }

  /// Appends `element`; traps (a programmer error) when full: callers check capacity first.
  public mutating func append(_ element: Element) {
    precondition(count < capacity, "FixedList.append(_:): list is full")
    storage[count] = element
    count += 1
  }

  /// The element at `index`.
  public subscript(index: Int) -> Element {
    get {
      precondition(index >= 0 && index < count, "FixedList.subscript: index out of range")
      // Through the span: the InlineArray's own getter copied the whole storage first (14 KB
      // for the tasks).
      return storage.span[index]!
    }
    set {
      precondition(index >= 0 && index < count, "FixedList.subscript: index out of range")
      storage[index] = newValue
    }
  }

  /// The element at `index`, read in place. Mutating only so that it is given the list's
  /// address: the subscript's getter, called on a list stored in a value being mutated (the
  /// validator's task scope), was given a copy of the whole list (14 KB for the tasks).
  public mutating func element(_ index: Int) -> Element {
    precondition(index >= 0 && index < count, "FixedList.element(_:): index out of range")
    return storage[index]!
  }

  /// The valid indices, `0..<count`.
  public var indices: Range<Int> { 0..<count }

  /// The elements as an array (for tests and startup code; allocates).
  public var elements: [Element] {
    var result: [Element] = []
    for index in 0..<count { result.append(storage.span[index]!) }
    return result
  }
}

extension FixedList: Equatable where Element: Equatable {
  public static func == (lhs: FixedList, rhs: FixedList) -> Bool {
    guard lhs.count == rhs.count else { return false }
    for index in 0..<lhs.count where lhs[index] != rhs[index] { return false }
    return true
  }
}

/// A list kept on the heap, with `FixedList`'s API: for config values that would make every
/// `TaskConfig` large if held inline (a sensor's channels and filter chains). The config is
/// startup-only and may allocate; a small `TaskKind` keeps the copies, compares and switches
/// of the task table small (binary size, debug codegen time).
public struct HeapList<Element>: Sendable where Element: Sendable {
  private var storage: [Element]

  /// An empty list.
  public init() { storage = [] }

  /// `count` copies of `element` (a list filled by index: no appends, so no growth code for it).
  public init(repeating element: Element, count: Int) { storage = Array(repeating: element, count: count) }

  /// How many elements are held.
  public var count: Int { storage.count }
  /// Whether the list holds no elements.
  public var isEmpty: Bool { storage.isEmpty }

  /// Appends `element`.
  public mutating func append(_ element: Element) { storage.append(element) }

  /// The element at `index`.
  public subscript(index: Int) -> Element {
    get { storage[index] }
    set { storage[index] = newValue }
  }

  /// The valid indices, `0..<count`.
  public var indices: Range<Int> { 0..<storage.count }

  /// The elements as an array.
  public var elements: [Element] { storage }
}

extension HeapList: Equatable where Element: Equatable {}

/// Text kept on the heap (a path given once in a config), read back as a `FixedText`.
public struct HeapText<let capacity: Int>: Equatable, Sendable {
  private var storage: [UInt8]

  /// `text`'s bytes.
  public init(_ text: FixedText<capacity>) { storage = text.bytes }

  /// The text.
  public var text: FixedText<capacity> { FixedText(storage) ?? FixedText() }
}

// MARK: - Writing into byte buffers

/// Appending text to a byte buffer without `String`: literals, numbers and quoted bytes.
/// Internal, so these overloads do not leak into modules that import LoopConfig.
extension Array where Element == UInt8 {
  /// Appends one byte. Out of line: `Array.append`, inlined, is about 80 bytes at each of the
  /// validator's many single-byte appends.
  @inline(never)
  mutating func append(byte: UInt8) { append(byte) }

  /// Appends the literal's UTF-8 bytes.
  @inline(never)
  mutating func append(_ literal: StaticString) {
    literal.withUTF8Buffer { self.append(contentsOf: $0) }
  }

  /// Appends `value` in decimal.
  @inline(never)
  mutating func appendDecimal(_ value: Int64) {
    let text = DecimalText(value)
    for i in 0..<text.count { append(text[i]) }
  }

  /// Appends `value` in decimal.
  mutating func appendDecimal(_ value: Int) { appendDecimal(Int64(value)) }

  /// Appends `value` in decimal.
  @inline(never)
  mutating func appendDecimal(_ value: UInt64) {
    let text = DecimalText(value)
    for i in 0..<text.count { append(text[i]) }
  }

  /// Appends `bytes` between double quotes, escaped as in JSON (`\"`, `\\`, control bytes as
  /// `\u00XX`): text from the config may hold anything, and a message stays one line.
  @inline(never)
  mutating func appendQuoted(_ bytes: UnsafeBufferPointer<UInt8>) {
    append(UInt8(ascii: "\""))
    for byte in bytes { JSONEscape.escape(byte) { append($0) } }
    append(UInt8(ascii: "\""))
  }

  /// Appends `bytes` between double quotes, escaped (one escaping loop for every kind of text).
  @inline(never)
  mutating func appendQuoted(_ bytes: ArraySlice<UInt8>) {
    bytes.withUnsafeBufferPointer { appendQuoted($0) }
  }

  /// Appends `bytes` between double quotes, escaped.
  @inline(never)
  mutating func appendQuoted(_ bytes: [UInt8]) {
    bytes.withUnsafeBufferPointer { appendQuoted($0) }
  }

  /// Appends `text` between double quotes (the names it holds need no escaping, so escaping
  /// changes nothing and the one escaping loop serves).
  @inline(never)
  mutating func appendQuoted<let n: Int>(_ text: FixedText<n>) {
    text.withBytes { appendQuoted($0) }
  }

  /// Appends the literal between double quotes.
  @inline(never)
  mutating func appendQuoted(_ literal: StaticString) {
    append(UInt8(ascii: "\""))
    append(literal)
    append(UInt8(ascii: "\""))
  }
}

/// The literal's UTF-8 bytes. (Not `Array("...".utf8)`: that goes through `String` and links
/// its index and breadcrumb machinery into the board binary, about 8 KB.)
@inline(never)
func bytes(_ literal: StaticString) -> [UInt8] {
  literal.withUTF8Buffer { Array($0) }
}

/// Whether `bytes` begins with the literal's bytes (not the generic `starts(with:)`).
func hasPrefix(_ bytes: [UInt8], _ literal: StaticString) -> Bool {
  let count = literal.utf8CodeUnitCount
  return bytes.count >= count && bytesEqual(bytes[0..<count], literal)
}

/// Whether `lhs` holds exactly the literal's bytes. (Concrete types, not generics: the
/// validator compares keys constantly and unspecialised generics are slow in debug builds.)
@inline(never)
func bytesEqual(_ lhs: ArraySlice<UInt8>, _ rhs: StaticString) -> Bool {
  // withUTF8Buffer, not utf8Start: a one-character literal may be stored as a scalar.
  rhs.withUTF8Buffer { buffer in
    guard lhs.count == buffer.count else { return false }
    var index = lhs.startIndex
    for offset in 0..<buffer.count {
      if lhs[index] != buffer[offset] { return false }
      index += 1
    }
    return true
  }
}
