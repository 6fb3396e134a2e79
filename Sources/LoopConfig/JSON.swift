// A small JSON reader (RFC 8259, strict) for board.json, written for Embedded Swift: it works
// on bytes, allocates only arrays at startup, and never traps or loops on bad input. The
// result is a flat node list (containers know where their subtree ends) plus a pool of
// decoded string bytes; every node keeps its byte offset so errors can say line:column.
//
// Limits keep a hostile file harmless: nesting depth, string length, and (in the loader)
// file size. Syntax errors name what was expected and what was found, with hints for the
// usual slips (trailing commas, comments, single quotes, unquoted words).

/// What a JSON value is.
public enum JSONKind: UInt8, Sendable {
  case object, array, string, number, boolean, null
}

/// One value (or object key) in a parsed document.
struct JSONNode {
  /// What the value is.
  var kind: JSONKind
  /// Byte offset of the value's first byte in the source.
  var offset: Int32
  /// Source bytes the token spans (scalars); for containers, the bytes up to the closing bracket.
  var length: Int32
  /// string: start in the pool; container: number of children (members for objects); boolean: 0/1.
  var a: Int32
  /// string: decoded length; container: index one past the last node of the subtree.
  var b: Int32
}

/// A parsed JSON document: the source bytes, the nodes in document order, the string pool.
struct JSONDocument {
  /// The file's bytes.
  let source: [UInt8]
  /// Every value in document order; an object's children alternate key, value.
  var nodes: [JSONNode] = []
  /// Decoded string bytes, referenced by string nodes.
  var pool: [UInt8] = []

  /// The deepest nesting of arrays and objects accepted.
  static let maxDepth = 32
  /// The longest string accepted, in bytes after decoding.
  static let maxStringBytes = 4096

  /// The first child of container `node` (its first key for an object).
  func firstChild(_ node: Int) -> Int { node + 1 }
  /// The node after `node`'s subtree (its next sibling, if any).
  func next(_ node: Int) -> Int {
    let n = nodes[node]
    return n.kind == .object || n.kind == .array ? Int(n.b) : node + 1
  }

  /// The decoded bytes of string node `node`.
  func string(_ node: Int) -> ArraySlice<UInt8> {
    let n = nodes[node]
    return pool[Int(n.a)..<Int(n.a + n.b)]
  }

  /// The source bytes of node `node`'s token.
  func token(_ node: Int) -> ArraySlice<UInt8> {
    let n = nodes[node]
    return source[Int(n.offset)..<Int(n.offset + n.length)]
  }

  /// The key nodes of object `node`; each key's value is the node after it (`key + 1`). (Node
  /// numbers, as `elements` returns: one array type for both.)
  @inline(never)
  func memberKeys(_ node: Int) -> [Int] {
    var result: [Int] = []
    var child = firstChild(node)
    for _ in 0..<Int(nodes[node].a) {
      result.append(child)
      child = next(child + 1)
    }
    return result
  }

  /// The (key, value) node pairs of object `node` (for tests; the validator walks `memberKeys`).
  func members(_ node: Int) -> [(key: Int, value: Int)] { memberKeys(node).map { ($0, $0 + 1) } }

  /// The element nodes of array `node`.
  @inline(never)
  func elements(_ node: Int) -> [Int] {
    var result: [Int] = []
    var child = firstChild(node)
    for _ in 0..<Int(nodes[node].a) {
      result.append(child)
      child = next(child)
    }
    return result
  }

  /// The value of `key` in object `node`, or nil (the first one if a key repeats).
  @inline(never)
  func member(_ node: Int, _ key: StaticString) -> Int? {
    var child = firstChild(node)
    for _ in 0..<Int(nodes[node].a) {
      if bytesEqual(string(child), key) { return child + 1 }
      child = next(child + 1)
    }
    return nil
  }

  /// 1-based line and column of byte `offset`; columns count Unicode scalars, so an editor
  /// lands on the same character. CR LF and a lone CR each end a line.
  @inline(never)
  func position(of offset: Int) -> (line: Int, column: Int) {
    var line = 1
    var column = 1
    var index = 0
    let end = min(offset, source.count)
    while index < end {
      let byte = source[index]
      if byte == 0x0A || (byte == 0x0D && (index + 1 >= source.count || source[index + 1] != 0x0A)) {
        line += 1
        column = 1
      } else if byte & 0xC0 != 0x80 && byte != 0x0D {
        column += 1
      }
      index += 1
    }
    return (line, column)
  }
}

/// A syntax error found while reading: where, and the message.
struct JSONSyntaxError: Error {
  var offset: Int
  var message: [UInt8]
}

/// The recursive-descent reader. Depth is bounded, so recursion is too.
struct JSONReader {
  private var document: JSONDocument
  /// The same bytes as `document.source` (shared storage), kept here for direct access.
  private let source: [UInt8]
  private var index = 0
  private var depth = 0

  private init(_ source: [UInt8]) {
    document = JSONDocument(source: source)
    self.source = source
  }

  /// Parses `source` as one JSON value with nothing but whitespace after it.
  static func parse(_ source: [UInt8]) throws(JSONSyntaxError) -> JSONDocument {
    var reader = JSONReader(source)
    // A UTF-8 byte order mark is tolerated, as editors on some systems write one.
    if source.count >= 3 && source[0] == 0xEF && source[1] == 0xBB && source[2] == 0xBF {
      reader.index = 3
    }
    reader.skipWhitespace()
    if reader.index >= source.count {
      throw JSONSyntaxError(offset: reader.index, message: bytes("the file holds no JSON value"))
    }
    try reader.parseValue()
    reader.skipWhitespace()
    if reader.index < source.count {
      throw reader.failFound("expected the end of the file after the top-level value, found ", hints: false)
    }
    return reader.document
  }

  // MARK: Values

  private mutating func parseValue() throws(JSONSyntaxError) {
    guard index < source.count else {
      throw fail("unexpected end of the file: expected a value")
    }
    switch source[index] {
    case UInt8(ascii: "{"): try parseContainer(object: true)
    case UInt8(ascii: "["): try parseContainer(object: false)
    case UInt8(ascii: "\""): try parseString()
    case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): try parseNumber()
    case UInt8(ascii: "t"): try parseLiteral("true", kind: .boolean, value: 1)
    case UInt8(ascii: "f"): try parseLiteral("false", kind: .boolean, value: 0)
    case UInt8(ascii: "n"): try parseLiteral("null", kind: .null, value: 0)
    default:
      throw failFound("expected a value, found ")
    }
  }

  private mutating func parseContainer(object: Bool) throws(JSONSyntaxError) {
    let start = index
    depth += 1
    if depth > JSONDocument.maxDepth {
      var message: [UInt8] = []
      message.append("nesting is deeper than ")
      message.appendDecimal(JSONDocument.maxDepth)
      message.append(" levels")
      throw JSONSyntaxError(offset: start, message: message)
    }
    let node = document.nodes.count
    document.nodes.append(
      JSONNode(kind: object ? .object : .array, offset: Int32(start), length: 1, a: 0, b: 0))
    index += 1
    let close = object ? UInt8(ascii: "}") : UInt8(ascii: "]")
    var count: Int32 = 0
    skipWhitespace()
    if peek() == close {
      index += 1
    } else {
      while true {
        skipWhitespace()
        if object {
          try parseKey(afterComma: count > 0)
          skipWhitespace()
          guard peek() == UInt8(ascii: ":") else {
            throw failFound("expected ':' after the object key, found ")
          }
          index += 1
          skipWhitespace()
        } else if count > 0 && peek() == close {
          throw fail("expected a value after ',', found ']' (JSON allows no trailing comma)")
        }
        try parseValue()
        count += 1
        skipWhitespace()
        guard index < source.count else {
          throw fail(
            object
              ? "unexpected end of the file: expected ',' or '}' after an object member"
              : "unexpected end of the file: expected ',' or ']' after an array element")
        }
        if source[index] == UInt8(ascii: ",") {
          index += 1
          continue
        }
        if source[index] == close {
          index += 1
          break
        }
        throw failFound(
          object
            ? "expected ',' or '}' after an object member, found "
            : "expected ',' or ']' after an array element, found ", hints: false)
      }
    }
    depth -= 1
    var finished = document.nodes[node]
    finished.a = count
    finished.b = Int32(document.nodes.count)
    finished.length = Int32(index - start)
    document.nodes[node] = finished
  }

  private mutating func parseKey(afterComma: Bool) throws(JSONSyntaxError) {
    guard index < source.count else {
      throw fail("unexpected end of the file: expected an object key")
    }
    if source[index] == UInt8(ascii: "\"") {
      try parseString()
      return
    }
    if afterComma && source[index] == UInt8(ascii: "}") {
      throw fail("expected an object key after ',', found '}' (JSON allows no trailing comma)")
    }
    throw failFound("expected a double-quoted object key, found ")
  }

  private mutating func parseLiteral(_ word: StaticString, kind: JSONKind, value: Int32)
    throws(JSONSyntaxError)
  {
    let start = index
    let matched = word.withUTF8Buffer { buffer -> Bool in
      guard start + buffer.count <= source.count else { return false }
      for offset in 0..<buffer.count where source[start + offset] != buffer[offset] { return false }
      let after = start + buffer.count
      return after == source.count || !isWordByte(source[after])
    }
    guard matched else {
      throw failFound("expected a value, found ", at: start)
    }
    index += word.utf8CodeUnitCount
    document.nodes.append(
      JSONNode(kind: kind, offset: Int32(start), length: Int32(index - start), a: value, b: 0))
  }

  // MARK: Numbers

  private mutating func parseNumber() throws(JSONSyntaxError) {
    let start = index
    if source[index] == UInt8(ascii: "-") { index += 1 }
    guard isDigit(peek()) else {
      throw fail("invalid number: expected a digit after '-'")
    }
    if source[index] == UInt8(ascii: "0") {
      index += 1
      if isDigit(peek()) {
        throw JSONSyntaxError(
          offset: start, message: bytes("invalid number: JSON allows no leading zeros"))
      }
    } else {
      skipDigits()
    }
    if peek() == UInt8(ascii: ".") {
      index += 1
      guard isDigit(peek()) else {
        throw fail("invalid number: expected a digit after '.'")
      }
      skipDigits()
    }
    if peek() | 0x20 == UInt8(ascii: "e") {
      index += 1
      if peek() == UInt8(ascii: "+") || peek() == UInt8(ascii: "-") {
        index += 1
      }
      guard isDigit(peek()) else {
        throw fail("invalid number: expected a digit in the exponent")
      }
      skipDigits()
    }
    if isWordByte(peek()) {
      var message: [UInt8] = []
      message.append("invalid number: unexpected ")
      describeFound(into: &message, hints: false)
      message.append(" after the digits")
      throw JSONSyntaxError(offset: index, message: message)
    }
    document.nodes.append(
      JSONNode(kind: .number, offset: Int32(start), length: Int32(index - start), a: 0, b: 0))
  }

  // MARK: Strings

  private mutating func parseString() throws(JSONSyntaxError) {
    let start = index
    let poolStart = document.pool.count
    index += 1
    while true {
      guard index < source.count else {
        throw JSONSyntaxError(
          offset: start,
          message: bytes("unterminated string: no closing '\"' before the end of the file"))
      }
      if document.pool.count - poolStart > JSONDocument.maxStringBytes {
        var message: [UInt8] = []
        message.append("string is longer than ")
        message.appendDecimal(JSONDocument.maxStringBytes)
        message.append(" bytes")
        throw JSONSyntaxError(offset: start, message: message)
      }
      let byte = source[index]
      if byte == UInt8(ascii: "\"") {
        index += 1
        break
      }
      if byte == UInt8(ascii: "\\") {
        try parseEscape()
        continue
      }
      if byte < 0x20 {
        var message: [UInt8] = []
        if byte == 0x0A || byte == 0x0D {
          message.append("unterminated string: a line break inside a string (write \\n, or close the '\"')")
        } else {
          message.append("control character ")
          appendByteHex(byte, into: &message)
          message.append(" inside a string (escape it as \\u00")
          message.append(hexDigit(byte >> 4))
          message.append(hexDigit(byte & 0xF))
          message.append(")")
        }
        throw JSONSyntaxError(offset: index, message: message)
      }
      if byte < 0x80 {
        document.pool.append(byte: byte)
        index += 1
        continue
      }
      let length = utf8SequenceLength(at: index)
      guard length > 0 else {
        var message: [UInt8] = []
        message.append("invalid UTF-8 in a string (byte ")
        appendByteHex(source[index], into: &message)
        message.append(")")
        throw JSONSyntaxError(offset: index, message: message)
      }
      document.pool.append(contentsOf: source[index..<(index + length)])
      index += length
    }
    document.nodes.append(
      JSONNode(
        kind: .string, offset: Int32(start), length: Int32(index - start), a: Int32(poolStart),
        b: Int32(document.pool.count - poolStart)))
  }

  private mutating func parseEscape() throws(JSONSyntaxError) {
    let start = index
    index += 1
    guard index < source.count else {
      throw JSONSyntaxError(
        offset: start, message: bytes("unterminated string: no closing '\"' before the end of the file"))
    }
    let byte = source[index]
    index += 1
    switch byte {
    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): document.pool.append(byte: byte)
    case UInt8(ascii: "b"): document.pool.append(byte: 0x08)
    case UInt8(ascii: "f"): document.pool.append(byte: 0x0C)
    case UInt8(ascii: "n"): document.pool.append(byte: 0x0A)
    case UInt8(ascii: "r"): document.pool.append(byte: 0x0D)
    case UInt8(ascii: "t"): document.pool.append(byte: 0x09)
    case UInt8(ascii: "u"):
      var scalar = try parseHex4(escapeStart: start)
      if scalar >= 0xDC00 && scalar <= 0xDFFF {
        throw JSONSyntaxError(
          offset: start,
          message: bytes("invalid \\u escape: a low surrogate without a high surrogate before it"))
      }
      if scalar >= 0xD800 && scalar <= 0xDBFF {
        guard index + 1 < source.count, source[index] == UInt8(ascii: "\\"),
          source[index + 1] == UInt8(ascii: "u")
        else {
          throw JSONSyntaxError(
            offset: start,
            message: bytes("invalid \\u escape: a high surrogate without a low surrogate after it"))
        }
        let lowStart = index
        index += 2
        let low = try parseHex4(escapeStart: lowStart)
        guard low >= 0xDC00 && low <= 0xDFFF else {
          throw JSONSyntaxError(
            offset: start,
            message: bytes("invalid \\u escape: a high surrogate without a low surrogate after it"))
        }
        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
      }
      appendUTF8(scalar)
    default:
      var message: [UInt8] = []
      message.append("invalid escape '\\")
      if byte >= 0x20 && byte < 0x7F {
        message.append(byte: byte)
        message.append("'")
      } else {
        message.append("' followed by byte ")
        appendByteHex(byte, into: &message)
      }
      message.append(" in a string (JSON escapes: \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)")
      throw JSONSyntaxError(offset: start, message: message)
    }
  }

  private mutating func parseHex4(escapeStart: Int) throws(JSONSyntaxError) -> UInt32 {
    var value: UInt32 = 0
    for _ in 0..<4 {
      guard let digit = hexValue(peek()) else {
        throw JSONSyntaxError(
          offset: escapeStart, message: bytes("invalid \\u escape: expected four hexadecimal digits"))
      }
      value = value << 4 | UInt32(digit)
      index += 1
    }
    return value
  }

  private mutating func appendUTF8(_ scalar: UInt32) {
    if scalar < 0x80 {
      document.pool.append(byte: UInt8(scalar))
    } else if scalar < 0x800 {
      document.pool.append(byte: UInt8(0xC0 | (scalar >> 6)))
      document.pool.append(byte: UInt8(0x80 | (scalar & 0x3F)))
    } else if scalar < 0x10000 {
      document.pool.append(byte: UInt8(0xE0 | (scalar >> 12)))
      document.pool.append(byte: UInt8(0x80 | ((scalar >> 6) & 0x3F)))
      document.pool.append(byte: UInt8(0x80 | (scalar & 0x3F)))
    } else {
      document.pool.append(byte: UInt8(0xF0 | (scalar >> 18)))
      document.pool.append(byte: UInt8(0x80 | ((scalar >> 12) & 0x3F)))
      document.pool.append(byte: UInt8(0x80 | ((scalar >> 6) & 0x3F)))
      document.pool.append(byte: UInt8(0x80 | (scalar & 0x3F)))
    }
  }

  /// The length of the well-formed UTF-8 sequence at `at` (2...4), or 0 when it is not one
  /// (overlong forms, surrogates and values above U+10FFFF are not well-formed).
  private func utf8SequenceLength(at start: Int) -> Int {
    let first = source[start]
    var length = 0
    var lowest: UInt8 = 0x80
    var highest: UInt8 = 0xBF
    switch first {
    case 0xC2...0xDF: length = 2
    case 0xE0:
      length = 3
      lowest = 0xA0
    case 0xE1...0xEC, 0xEE...0xEF: length = 3
    case 0xED:
      length = 3
      highest = 0x9F
    case 0xF0:
      length = 4
      lowest = 0x90
    case 0xF1...0xF3: length = 4
    case 0xF4:
      length = 4
      highest = 0x8F
    default: return 0
    }
    guard start + length <= source.count else { return 0 }
    let second = source[start + 1]
    guard second >= lowest && second <= highest else { return 0 }
    for offset in 2..<length where source[start + offset] & 0xC0 != 0x80 { return 0 }
    return length
  }

  // MARK: Helpers

  private mutating func skipWhitespace() {
    while true {
      switch peek() {
      case 0x20, 0x09, 0x0A, 0x0D: index += 1
      default: return
      }
    }
  }

  /// The byte at the reading position, 0 at the end of the file (compared only with bytes
  /// other than 0, or tested by a class 0 is not in: no NUL is mistaken for the end).
  @inline(never)
  private mutating func peek() -> UInt8 { index < source.count ? source[index] : 0 }

  /// Moves past the digits at the reading position.
  @inline(never)
  private mutating func skipDigits() {
    while isDigit(peek()) { index += 1 }
  }

  /// `message` then what is at the reading position (`describeFound`), at `offset` (the
  /// reading position when nil).
  @inline(never)
  private func failFound(_ message: StaticString, hints: Bool = true, at offset: Int? = nil)
    -> JSONSyntaxError
  {
    var bytes: [UInt8] = []
    bytes.append(message)
    describeFound(into: &bytes, hints: hints)
    return JSONSyntaxError(offset: offset ?? index, message: bytes)
  }

  private func fail(_ message: StaticString) -> JSONSyntaxError {
    var bytes: [UInt8] = []
    bytes.append(message)
    return JSONSyntaxError(offset: index, message: bytes)
  }

  /// Describes what is at the reading position; with `hints`, also what the usual mistakes
  /// there (a word where a value belongs) should have been.
  private func describeFound(into message: inout [UInt8], hints: Bool = true) {
    guard index < source.count else {
      message.append("the end of the file")
      return
    }
    let byte = source[index]
    if byte == UInt8(ascii: "/") && index + 1 < source.count
      && (source[index + 1] == UInt8(ascii: "/") || source[index + 1] == UInt8(ascii: "*"))
    {
      message.append("a comment (JSON has no comments; use a \"note\" key)")
      return
    }
    if byte == UInt8(ascii: "'") {
      message.append("a single quote (JSON strings use double quotes)")
      return
    }
    if isWordByte(byte) {
      var end = index
      while end < source.count && end - index < 24 && isWordByte(source[end]) { end += 1 }
      message.append("'")
      message.append(contentsOf: source[index..<end])
      message.append("'")
      let word = source[index..<end]
      if !hints { return }
      // The words as lists (one lookup each, not a comparison call per word).
      if Words("True False Null TRUE FALSE NULL", then: "").index(of: word) != nil {
        message.append(" (JSON literals are lowercase: true, false, null)")
      } else if Words("NaN Infinity", then: "").index(of: word) != nil {
        message.append(" (JSON has no NaN or Infinity)")
      } else if isLetter(byte) {
        message.append(" (strings need double quotes)")
      }
      return
    }
    if byte >= 0x21 && byte < 0x7F {
      message.append("'")
      message.append(byte: byte)
      message.append("'")
      return
    }
    message.append("byte ")
    appendByteHex(byte, into: &message)
  }

  private func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }
  private func isLetter(_ byte: UInt8) -> Bool {
    (byte | 0x20) >= UInt8(ascii: "a") && (byte | 0x20) <= UInt8(ascii: "z")
  }
  private func isWordByte(_ byte: UInt8) -> Bool {
    isDigit(byte) || isLetter(byte) || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ".")
      || byte == UInt8(ascii: "+") || byte == UInt8(ascii: "-")
  }
  private func hexValue(_ byte: UInt8) -> UInt8? {
    if isDigit(byte) { return byte - UInt8(ascii: "0") }
    let lower = byte | 0x20
    if lower >= UInt8(ascii: "a") && lower <= UInt8(ascii: "f") { return lower - UInt8(ascii: "a") + 10 }
    return nil
  }
}

/// The hex digit for `nibble` (0...15), upper case.
func hexDigit(_ nibble: UInt8) -> UInt8 {
  nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "A") + nibble - 10
}

/// Appends `0xAB` for `byte`.
func appendByteHex(_ byte: UInt8, into message: inout [UInt8]) {
  message.append("0x")
  message.append(hexDigit(byte >> 4))
  message.append(hexDigit(byte & 0xF))
}
