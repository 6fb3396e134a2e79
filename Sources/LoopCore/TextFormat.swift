// The one integer formatter and the one JSON string escaper of the tree: records, the
// summary, config messages, fixed text and systemd's MONOTONIC_USEC all write integers and
// quoted text through these, inline and without the heap. Package: sensorloop's own; a
// firmware writes numbers with `FixedText.append(decimal:)`.

/// An integer in decimal ASCII (`-42`), formatted into inline storage.
///
/// At most 20 bytes: `-9223372036854775808` (Int64.min) and `18446744073709551615`
/// (UInt64.max) both fit.
package struct DecimalText: Sendable {
  private var bytes = InlineArray<20, UInt8>(repeating: 0)
  /// Where the text starts; it runs to the end of `bytes`.
  private var start = 20

  /// `value` in decimal, with a leading `-` when negative.
  package init(_ value: Int64) { self.init(magnitude: value.magnitude, negative: value < 0) }

  /// `value` in decimal.
  package init(_ value: UInt64) { self.init(magnitude: value, negative: false) }

  private init(magnitude: UInt64, negative: Bool) {
    // Digits from the last, on the magnitude as UInt64 (Int64.min's does not fit an Int64).
    var rest = magnitude
    repeat {
      start -= 1
      bytes[start] = UInt8(truncatingIfNeeded: rest % 10) + 0x30
      rest /= 10
    } while rest > 0
    if negative {
      start -= 1
      bytes[start] = 0x2D
    }
  }

  /// Bytes of text.
  package var count: Int { 20 - start }

  /// The byte at `index` (below `count`).
  package subscript(index: Int) -> UInt8 {
    precondition(index >= 0 && index < count, "DecimalText.subscript: index out of range")
    return bytes[start + index]
  }

  /// Calls `body` with the text's bytes.
  package func withSpan<R, E: Error>(_ body: (Span<UInt8>) throws(E) -> R) throws(E) -> R {
    try body(bytes.span.extracting(start..<20))
  }
}

/// How a byte is written inside a JSON string: `"` and `\` with a backslash, control bytes
/// and DEL as `\u00XX` (so a message stays one line), every other byte (UTF-8 included) as
/// it is.
package enum JSONEscape {
  /// How many bytes `byte` takes inside a JSON string: 1, 2 (`\"`, `\\`) or 6 (`\u00XX`).
  package static func width(of byte: UInt8) -> Int {
    if byte == 0x22 || byte == 0x5C { return 2 }
    if byte < 0x20 || byte == 0x7F { return 6 }
    return 1
  }

  /// Hands the bytes of `byte`'s form inside a JSON string to `emit`, in order.
  package static func escape(_ byte: UInt8, _ emit: (UInt8) -> Void) {
    switch width(of: byte) {
    case 2:
      emit(0x5C)
      emit(byte)
    case 6:
      emit(0x5C)
      emit(0x75)  // u
      emit(0x30)
      emit(0x30)
      emit(hexDigit(byte >> 4))
      emit(hexDigit(byte & 0xF))
    default:
      emit(byte)
    }
  }

  /// The upper-case hex digit of `nibble` (below 16).
  private static func hexDigit(_ nibble: UInt8) -> UInt8 { nibble < 10 ? 0x30 + nibble : 0x41 + nibble - 10 }
}
