// The one integer formatter and the one JSON escaper, by table: the extremes of Int64 and
// UInt64, and each class of byte inside a JSON string.

import LoopCore
import Testing

@Suite struct TextFormatTests {
  func string(_ text: DecimalText) -> String {
    String(decoding: (0..<text.count).map { text[$0] }, as: UTF8.self)
  }

  @Test(arguments: [
    (Int64(0), "0"), (7, "7"), (-1, "-1"), (1_000_000, "1000000"),
    (Int64.max, "9223372036854775807"), (Int64.min, "-9223372036854775808"),
  ])
  func signedIntegers(value: Int64, expected: String) {
    #expect(string(DecimalText(value)) == expected)
    #expect(DecimalText(value).withSpan { $0.count } == expected.utf8.count)
  }

  @Test func unsignedIntegers() {
    #expect(string(DecimalText(UInt64(0))) == "0")
    #expect(string(DecimalText(UInt64.max)) == "18446744073709551615")
  }

  func escaped(_ byte: UInt8) -> String {
    var out: [UInt8] = []
    JSONEscape.escape(byte) { out.append($0) }
    #expect(out.count == JSONEscape.width(of: byte))
    return String(decoding: out, as: UTF8.self)
  }

  @Test func jsonEscapes() {
    #expect(escaped(0x41) == "A")
    #expect(escaped(0x22) == #"\""#)
    #expect(escaped(0x5C) == #"\\"#)
    #expect(escaped(0x00) == #"\u0000"#)
    #expect(escaped(0x0A) == #"\u000A"#)
    #expect(escaped(0x1F) == #"\u001F"#)
    #expect(escaped(0x7F) == #"\u007F"#)
    #expect(escaped(0xC3) == "\u{FFFD}")  // a UTF-8 lead byte passes through as it is
  }
}
