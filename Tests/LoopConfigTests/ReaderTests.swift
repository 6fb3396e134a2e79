// The JSON reader, numbers, suggestions and file reading, below the schema: decoding,
// positions, limits, and that no input (truncated, mutated, hostile) crashes or hangs.

import Foundation
import Testing

@testable import LoopConfig

@Suite struct ReaderTests {
  func document(_ text: String) throws -> JSONDocument {
    do throws(JSONSyntaxError) {
      return try JSONReader.parse(Array(text.utf8))
    } catch {
      throw TestFailure(String(decoding: error.message, as: UTF8.self))
    }
  }

  func syntaxError(_ bytes: [UInt8]) -> (offset: Int, message: String)? {
    do throws(JSONSyntaxError) {
      _ = try JSONReader.parse(bytes)
      return nil
    } catch {
      return (error.offset, String(decoding: error.message, as: UTF8.self))
    }
  }

  @Test func stringsDecodeEscapesAndUnicode() throws {
    let doc = try document(#"["a\"b\\c\/d\b\f\n\r\t", "\u00e9\u20AC", "\ud83d\ude00", "é€😀"]"#)
    let elements = doc.elements(0)
    #expect(Array(doc.string(elements[0])) == Array("a\"b\\c/d\u{8}\u{c}\n\r\t".utf8))
    #expect(Array(doc.string(elements[1])) == Array("é€".utf8))
    #expect(Array(doc.string(elements[2])) == Array("😀".utf8))
    #expect(Array(doc.string(elements[3])) == Array("é€😀".utf8))
  }

  @Test func objectsKeepOrderAndSkipSubtrees() throws {
    let doc = try document(#"{"a": [1, [2, {"x": 3}]], "b": {"c": null}, "d": true, "e": false}"#)
    let members = doc.members(0)
    #expect(members.map { String(decoding: doc.string($0.key), as: UTF8.self) } == ["a", "b", "d", "e"])
    #expect(doc.nodes[members[0].value].kind == .array)
    #expect(doc.nodes[members[1].value].kind == .object)
    #expect(doc.nodes[members[2].value].a == 1)
    #expect(doc.nodes[members[3].value].a == 0)
    #expect(doc.member(0, "d") == members[2].value)
    #expect(doc.member(0, "zz") == nil)
  }

  @Test func positionsCountCharactersAndLineEndings() throws {
    // Columns count characters, not bytes: "é" is one column.
    var error = syntaxError(Array("{\"é\": x}".utf8))!
    var position = JSONDocument(source: Array("{\"é\": x}".utf8)).position(of: error.offset)
    #expect(position.line == 1 && position.column == 7)
    // CR LF is one line end; so is a lone CR.
    let text = Array("{\r\n\"a\": 1,\r\"b\": ?}".utf8)
    error = syntaxError(text)!
    position = JSONDocument(source: text).position(of: error.offset)
    #expect(position.line == 3 && position.column == 6)
  }

  @Test func byteOrderMarkIsSkipped() throws {
    let doc = try document("\u{FEFF}{\"a\": 1}")
    #expect(doc.nodes[0].kind == .object)
  }

  @Test func nestingLimit() throws {
    let depth = JSONDocument.maxDepth
    _ = try document(String(repeating: "[", count: depth) + String(repeating: "]", count: depth))
    let tooDeep = String(repeating: "[", count: depth + 1) + String(repeating: "]", count: depth + 1)
    #expect(syntaxError(Array(tooDeep.utf8))?.message == "nesting is deeper than 32 levels")
    // A million brackets fail fast at the limit rather than recursing.
    #expect(syntaxError([UInt8](repeating: UInt8(ascii: "["), count: 1_000_000)) != nil)
  }

  @Test func stringLengthLimit() {
    let long = "[\"" + String(repeating: "x", count: JSONDocument.maxStringBytes + 10) + "\"]"
    #expect(syntaxError(Array(long.utf8))?.message == "string is longer than 4096 bytes")
  }

  @Test func invalidUTF8IsRefused() {
    let cases: [[UInt8]] = [
      [0xC0, 0x80],  // overlong NUL
      [0xED, 0xA0, 0x80],  // a surrogate
      [0xF4, 0x90, 0x80, 0x80],  // above U+10FFFF
      [0xE2, 0x82],  // truncated
      [0x80],  // a lone continuation byte
      [0xFF],
    ]
    for bytes in cases {
      let text = [UInt8(ascii: "\"")] + bytes + [UInt8(ascii: "\"")]
      #expect(syntaxError(text)?.message.hasPrefix("invalid UTF-8 in a string") == true)
    }
  }

  @Test func numbersParseExactly() {
    func number(_ text: String) -> DecimalNumber? { DecimalNumber.parse(ArraySlice(text.utf8)) }
    #expect(number("0") == .zero)
    #expect(number("-0") == .zero)
    #expect(number("2.4") == DecimalNumber(significand: 24, exponent: -1))
    #expect(number("2.40") == DecimalNumber(significand: 24, exponent: -1))
    #expect(number("1000") == DecimalNumber(significand: 1, exponent: 3))
    #expect(number("1e3") == DecimalNumber(significand: 1, exponent: 3))
    #expect(number("-1.5E-3") == DecimalNumber(significand: -15, exponent: -4))
    #expect(number("0.001")?.double == 0.001)
    #expect(number("-273.15")?.double == -273.15)
    #expect(number("123456789012345678901234")?.exponent == 6)  // digits past 18 become powers of ten
    #expect(number("1e999")?.double == .infinity)
    #expect(number("1e9999999") == nil)
    #expect(number("0e9999999") == .zero)
    #expect(number("1000")?.exactInteger == 1000)
    #expect(number("2.5")?.exactInteger == nil)
    #expect(number("1e30")?.exactInteger == nil)
  }

  @Test func numbersRender() {
    func rendered(_ number: DecimalNumber) -> String {
      var out: [UInt8] = []
      number.render(into: &out)
      return String(decoding: out, as: UTF8.self)
    }
    #expect(rendered(DecimalNumber(significand: 24, exponent: -1)) == "2.4")
    #expect(rendered(DecimalNumber(significand: -1, exponent: -3)) == "-0.001")
    #expect(rendered(DecimalNumber(significand: 1, exponent: 9)) == "1000000000")
    #expect(rendered(.zero) == "0")
  }

  @Test func integerTokens() {
    #expect(integerToken(ArraySlice("9223372036854775807".utf8)) == Int64.max)
    #expect(integerToken(ArraySlice("-9223372036854775808".utf8)) == Int64.min)
    #expect(integerToken(ArraySlice("9223372036854775808".utf8)) == nil)
    #expect(integerToken(ArraySlice("1.0".utf8)) == nil)
  }

  /// A word list is one literal split at spaces and line breaks, or a list of literals.
  @Test func wordLists() {
    let words: Words = """
      json  influx
      none
      """
    #expect(words.list == [Array("json".utf8), Array("influx".utf8), Array("none".utf8)])
    #expect(words.index(of: ArraySlice("influx".utf8)) == 1)
    #expect(words.index(of: ArraySlice("jso".utf8)) == nil)
    #expect(Words(["a", "bc"]).list == [[UInt8(ascii: "a")], Array("bc".utf8)])
    let one: Words = "C"  // a one-scalar literal, stored without a pointer
    #expect(one.list == [[UInt8(ascii: "C")]])
    let units: Words = "°C degC"
    #expect(units.index(of: ArraySlice("°C".utf8)) == 0)
    #expect(suggestion(for: ArraySlice("nte".utf8), among: "name", orNote: true) == Array("note".utf8))
    var quoted: [UInt8] = []
    quoted.appendQuoted(words, separator: ", ")
    #expect(String(decoding: quoted, as: UTF8.self) == "\"json\", \"influx\", \"none\"")
  }

  @Test func suggestions() {
    let keys: Words = "period_ms pattern_ms line name kind debounce_ms"
    func suggest(_ word: String) -> String? {
      suggestion(for: Array(word.utf8)[...], among: keys).map { String(decoding: $0, as: UTF8.self) }
    }
    #expect(suggest("perod_ms") == "period_ms")  // a deletion
    #expect(suggest("periodMs") == "period_ms")  // case and one edit
    #expect(suggest("nmae") == "name")  // a swap
    #expect(suggest("Name") == "name")  // case only
    #expect(suggest("debounce") == "debounce_ms")  // the unit left off
    #expect(suggest("colour") == nil)  // nothing close
    #expect(suggest("x") == nil)
    #expect(editDistance(Array("kitten".utf8), Array("sitting".utf8)) == 3)
    #expect(editDistance([], Array("abc".utf8)) == 3)
  }

  @Test func errorWithoutPositionRenders() {
    let error = ConfigError(
      kind: .file, file: Array("x.json".utf8), path: [], line: 0, column: 0,
      message: Array("is a directory, not a config file".utf8))
    #expect(String(decoding: error.rendered, as: UTF8.self) == "x.json: is a directory, not a config file")
  }

  @Test func unreadableFileIsAnError() {
    // Reading /proc/self/mem at offset 0 fails with EIO: a file that opens but cannot be read.
    do throws(ConfigError) {
      _ = try loadBoardConfig(path: Array("/proc/self/mem".utf8))
      Issue.record("accepted")
    } catch {
      #expect(error.kind == .file)
      #expect(
        String(decoding: error.rendered, as: UTF8.self)
          == "/proc/self/mem: cannot read the config file: input/output error (EIO)")
    }
  }

  @Test func endlessFileStopsAtTheSizeLimit() {
    do throws(ConfigError) {
      _ = try loadBoardConfig(path: Array("/dev/zero".utf8))
      Issue.record("accepted")
    } catch {
      #expect(
        String(decoding: error.rendered, as: UTF8.self)
          == "/dev/zero: the file is larger than 262144 bytes; a board config is a few kilobytes")
    }
  }

  @Test func pathWithNulIsRefused() {
    do throws(ConfigError) {
      _ = try loadBoardConfig(path: [UInt8(ascii: "a"), 0, UInt8(ascii: "b")])
      Issue.record("accepted")
    } catch {
      #expect(error.kind == .file)
    }
  }

  @Test func prefixesOfABoardFileFailCleanly() throws {
    let bytes = try [UInt8](Data(contentsOf: repositoryRoot.appendingPathComponent("Boards/sim.json")))
    // Every third length keeps the debug-build run short; the cut lands on every kind of token.
    for length in stride(from: 0, to: bytes.count - 2, by: 3) {
      do throws(ConfigError) {
        _ = try parseBoardConfig(Array(bytes[0..<length]), fileName: Array("sim.json".utf8))
        Issue.record("prefix of \(length) bytes was accepted")
      } catch {
        #expect(error.line >= 1 || length == 0)
      }
    }
  }

  @Test func mutatedBoardFilesNeverCrash() throws {
    // Deterministic mutations (a fixed-seed generator): replace, insert or delete bytes, and
    // splice in characters JSON cares about. Each must load or fail with a message; none may
    // trap. Those that still load must still be within capacity.
    let base = try [UInt8](Data(contentsOf: repositoryRoot.appendingPathComponent("Boards/sim.json")))
    var state: UInt64 = 0x9E37_79B9_7F4A_7C15
    func next() -> Int {
      state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
      return Int(truncatingIfNeeded: state >> 33)
    }
    let interesting = Array("{}[]\",:\\0123456789.-eE truefalsenull\u{0}\u{7F}\u{FF}".utf8)
    var accepted = 0
    for _ in 0..<800 {
      var bytes = base
      for _ in 0..<(1 + next() % 4) {
        let position = next() % bytes.count
        switch next() % 3 {
        case 0: bytes[position] = interesting[next() % interesting.count]
        case 1: bytes.insert(interesting[next() % interesting.count], at: position)
        default: bytes.remove(at: position)
        }
      }
      do throws(ConfigError) {
        let config = try parseBoardConfig(bytes, fileName: Array("m.json".utf8))
        for row in CapacityPlan(config).rows { #expect(row.used <= row.limit) }
        accepted += 1
      } catch {
        #expect(!error.message.isEmpty)
      }
    }
    #expect(accepted < 800)
  }
}
