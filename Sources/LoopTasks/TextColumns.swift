// Text columns (the summary's table) and `TextWriter`, text written to an fd with blocking
// writes through a small fixed buffer: messages before and after the loop, never while it runs.

import LoopCore
import LoopLinux

/// Text with column helpers (the summary's table), appended a byte at a time.
public protocol TextColumns: ByteAppending {
  /// The column the next byte lands in (0 after a newline).
  var currentColumn: Int { get }
}

extension TextColumns {
  /// Appends `text` padded with spaces to `width` (left-aligned unless `right`).
  @inline(never)
  public mutating func column(_ text: StaticString, _ width: Int, right: Bool = false) {
    let start = currentColumn
    if right { pad(width - text.utf8CodeUnitCount) }
    append(text)
    if !right { pad(width - (currentColumn - start)) }
  }

  /// Appends a name padded to `width`.
  @inline(never)
  public mutating func column(_ text: ShortName, _ width: Int) {
    let start = currentColumn
    append(text)
    pad(width - (currentColumn - start))
  }

  /// Appends `value` right-aligned in `width`.
  public mutating func number(_ value: Int64, _ width: Int) {
    var digits = 1
    var rest = value.magnitude / 10
    while rest > 0 {
      digits += 1
      rest /= 10
    }
    pad(width - digits - (value < 0 ? 1 : 0))
    append(integer: value)
  }

  private mutating func pad(_ n: Int) {
    var n = max(n, 1)
    while n > 0 {
      append(byte: 0x20)
      n -= 1
    }
  }
}

/// Text written to an fd through a small fixed buffer with blocking writes (messages before
/// and after the loop; never while it runs).
public struct TextWriter: TextColumns {
  private var buffer = InlineArray<512, UInt8>(repeating: 0)
  private var count = 0
  public private(set) var currentColumn = 0
  /// The destination fd (not owned).
  public let fd: Int32

  /// A writer to `fd`.
  @inline(never)
  public init(fd: Int32) { self.fd = fd }

  @inline(never)
  public mutating func append(byte: UInt8) {
    if count == 512 { flush() }
    buffer[count] = byte
    count += 1
    currentColumn = byte == 0x0A ? 0 : currentColumn + 1
  }

  /// Writes what is buffered (blocking writes; errors ignored: there is nowhere to report them).
  @inline(never)
  public mutating func flush() {
    writeAllBlocking(fd, buffer.span.extracting(0..<count))
    count = 0
  }
}

/// Writes all of `bytes` to `fd`, retrying short writes; stops at the first error.
func writeAllBlocking(_ fd: Int32, _ bytes: Span<UInt8>) {
  let out = BorrowedFileDescriptor(fd)
  var offset = 0
  while offset < bytes.count {
    guard let wrote = try? out.write(bytes.extracting(offset..<bytes.count)), wrote > 0 else { return }
    offset += wrote
  }
}
