// The validator's toolkit: the JSON path it is at, error construction with "expected ...,
// found ...", key checking with "did you mean", and typed readers for the value shapes the
// schema uses (integers in a range, durations, decimals, choices, names, paths).
// The schema itself (which keys each object has) is in ValidateBoard.swift.

import LoopCore

/// Walks a parsed document, tracking the JSON path for messages.
struct Validator {
  /// The parsed file.
  let doc: JSONDocument
  /// The file name for messages.
  let file: [UInt8]
  /// The JSON path of the value being checked (`tasks[2].line`).
  var path: [UInt8] = []
  /// What the tasks being read may refer to (ValidateTasks.swift).
  var scope = TaskScope()

  init(doc: JSONDocument, file: [UInt8]) {
    self.doc = doc
    self.file = file
  }

  // MARK: The path

  /// Appends `.key` to the path; returns the mark `pop` restores.
  @inline(never)
  mutating func push(_ key: StaticString) -> Int {
    let mark = path.count
    if !path.isEmpty { path.append(byte: UInt8(ascii: ".")) }
    path.append(key)
    return mark
  }

  /// Appends a key from the document (quoted as `["..."]` unless it is a plain word).
  @inline(never)
  mutating func push(key: ArraySlice<UInt8>) -> Int {
    let mark = path.count
    if !key.isEmpty && key.allSatisfy(isNameByte) {
      if !path.isEmpty { path.append(byte: UInt8(ascii: ".")) }
      path.append(contentsOf: key)
    } else {
      path.append("[")
      path.appendQuoted(key)
      path.append("]")
    }
    return mark
  }

  /// Appends `[index]` to the path.
  @inline(never)
  mutating func push(index: Int) -> Int {
    let mark = path.count
    path.append(byte: UInt8(ascii: "["))
    path.appendDecimal(index)
    path.append(byte: UInt8(ascii: "]"))
    return mark
  }

  /// Restores the path to `mark`. Called on the way out of a successful read only, not in a
  /// `defer`: an error carries the path it was made with, and a validator that threw is not
  /// used again (no `ConfigError` is caught while validating), so the error paths skip it.
  @inline(never)
  mutating func pop(_ mark: Int) { path.removeSubrange(mark...) }

  /// The value of `key` in `object` with the key pushed on the path (`pop(mark)` once it is
  /// read), or nil when `object` has no `key`.
  @inline(never)
  mutating func enter(_ object: Int, _ key: StaticString) -> (node: Int, mark: Int)? {
    guard let node = doc.member(object, key) else { return nil }
    return (node, push(key))
  }

  // MARK: Errors

  /// The node's kind.
  mutating func kind(_ node: Int) -> JSONKind { doc.nodes[node].kind }

  /// An error at `node` with the current path.
  @inline(never)
  mutating func error(_ kind: ConfigError.Kind, at node: Int, _ message: [UInt8]) -> ConfigError {
    let position = doc.position(of: Int(doc.nodes[node].offset))
    return ConfigError(
      kind: kind, file: file, path: path, line: position.line, column: position.column, message: message)
  }

  /// An error at `node` with a fixed message (its bytes made here, not at each call site).
  @inline(never)
  mutating func error(_ kind: ConfigError.Kind, at node: Int, _ message: StaticString) -> ConfigError {
    error(kind, at: node, bytes(message))
  }

  /// `mismatch` with a fixed expectation.
  @inline(never)
  mutating func mismatch(_ kind: ConfigError.Kind, at node: Int, expected: StaticString) -> ConfigError {
    mismatch(kind, at: node, expected: bytes(expected))
  }

  /// `missing` with a fixed expectation.
  @inline(never)
  mutating func missing(_ object: Int, _ key: StaticString, _ expected: StaticString) -> ConfigError {
    missing(object, key, bytes(expected))
  }

  /// `expected <expected>, found <node>` (and `; did you mean "<suggested>"?`).
  @inline(never)
  mutating func mismatch(
    _ kind: ConfigError.Kind, at node: Int, expected: [UInt8], suggested: [UInt8]?
  ) -> ConfigError {
    var message: [UInt8] = []
    message.append("expected ")
    message.append(contentsOf: expected)
    message.append(", found ")
    describe(node, into: &message)
    if let suggested {
      message.append("; did you mean ")
      message.appendQuoted(suggested)
      message.append("?")
    }
    return error(kind, at: node, message)
  }

  /// `mismatch` with nothing to suggest.
  @inline(never)
  mutating func mismatch(_ kind: ConfigError.Kind, at node: Int, expected: [UInt8]) -> ConfigError {
    mismatch(kind, at: node, expected: expected, suggested: nil)
  }

  /// A type mismatch (`.type` when the JSON type differs, else `kind`).
  @inline(never)
  mutating func mismatch(_ node: Int, wantedType: JSONKind, expected: [UInt8], else kind: ConfigError.Kind)
    -> ConfigError
  {
    mismatch(self.kind(node) == wantedType ? kind : .type, at: node, expected: expected)
  }

  /// Writes what `node` is: its text for scalars (shortened), "an object" or "an array".
  @inline(never)
  mutating func describe(_ node: Int, into out: inout [UInt8]) {
    switch kind(node) {
    case .object: out.append("an object")
    case .array: out.append("an array")
    case .string, .number, .boolean, .null:
      let token = doc.token(node)
      let limit = 40
      if token.count <= limit {
        out.append(contentsOf: token)
      } else {
        // Cut at a character boundary so the message stays valid UTF-8.
        var end = token.startIndex + limit
        while end > token.startIndex && token[end] & 0xC0 == 0x80 { end -= 1 }
        out.append(contentsOf: token[token.startIndex..<end])
        out.append("...")
        if kind(node) == .string { out.append(byte: UInt8(ascii: "\"")) }
      }
    }
  }

  /// The error for a required key that is absent from object `object`.
  @inline(never)
  mutating func missing(_ object: Int, _ key: StaticString, _ expected: [UInt8]) -> ConfigError {
    var message: [UInt8] = []
    message.append("missing required key ")
    message.appendQuoted(key)
    message.append(" (")
    message.append(contentsOf: expected)
    message.append(")")
    return error(.missingKey, at: object, message)
  }

  // MARK: Objects and keys

  /// Checks that `node` is an object whose keys are all in `allowed` (plus `note`, free text
  /// allowed everywhere), none repeated. `what` names the object for messages.
  mutating func checkObject(
    _ node: Int, allowed keys: StaticString, then moreKeys: StaticString, what: StaticString,
    example: StaticString
  ) throws(ConfigError) {
    let allowed = Words(keys, then: moreKeys)
    guard kind(node) == .object else {
      var expected: [UInt8] = []
      expected.append("an object for ")
      expected.append(what)
      expected.append(" (")
      expected.append(example)
      expected.append(")")
      throw mismatch(.type, at: node, expected: expected)
    }
    let noteSlot = allowed.count
    var seen = [Int](repeating: -1, count: noteSlot + 1)
    var next = doc.firstChild(node)
    for _ in 0..<Int(doc.nodes[node].a) {
      let keyNode = next
      next = doc.next(keyNode + 1)
      let key = doc.string(keyNode)
      var slot = allowed.index(of: key) ?? -1
      if bytesEqual(key, "note") { slot = noteSlot }
      let mark = push(key: key)
      guard slot >= 0 else {
        var message: [UInt8] = []
        message.append("unknown key")
        if let close = suggestion(for: key, among: allowed, orNote: true) {
          message.append("; did you mean ")
          message.appendQuoted(close)
          message.append("?")
        } else {
          message.append("; ")
          message.append(what)
          message.append(" has the keys ")
          message.appendQuoted(allowed, separator: ", ")
          message.append(" and \"note\"")
        }
        throw error(.unknownKey, at: keyNode, message)
      }
      if seen[slot] >= 0 { throw duplicateKey(keyNode, first: seen[slot]) }
      seen[slot] = keyNode
      if slot == noteSlot && kind(keyNode + 1) != .string {
        throw mismatch(.type, at: keyNode + 1, expected: bytes("a string (free text)"))
      }
      pop(mark)
    }
  }

  /// `checkObject` with one list of keys (every object but a task): three arguments fewer at
  /// each call.
  @inline(never)
  mutating func checkObject(
    _ node: Int, allowed keys: StaticString, what: StaticString, example: StaticString
  ) throws(ConfigError) {
    try checkObject(node, allowed: keys, then: "", what: what, example: example)
  }

  /// The error for key node `node`, which repeats the key at node `first`.
  @inline(never)
  mutating func duplicateKey(_ node: Int, first: Int) -> ConfigError {
    var message: [UInt8] = []
    message.append("duplicate key (first written at ")
    appendPosition(of: first, into: &message)
    message.append(")")
    return error(.duplicateKey, at: node, message)
  }

  /// Appends where node `node` starts, as `line:column`.
  @inline(never)
  mutating func appendPosition(of node: Int, into message: inout [UInt8]) {
    let position = doc.position(of: Int(doc.nodes[node].offset))
    message.appendDecimal(position.line)
    message.append(":")
    message.appendDecimal(position.column)
  }

  // MARK: Scalars

  /// Reads an integer (written without fraction or exponent) within `range`.
  @inline(never)
  mutating func readInteger(_ node: Int, _ range: ClosedRange<Int64>, unit: StaticString)
    throws(ConfigError)
    -> Int64
  {
    if kind(node) == .number, let value = integerToken(doc.token(node)), range.contains(value) {
      return value
    }
    var expected: [UInt8] = []
    expected.append("an integer")
    if unit.utf8CodeUnitCount > 0 {
      expected.append(" (")
      expected.append(unit)
      expected.append(")")
    }
    appendRange(range, into: &expected)
    throw mismatch(node, wantedType: .number, expected: expected, else: .range)
  }

  /// `readInteger` with no unit: one call's arguments fewer at each use.
  @inline(never)
  mutating func readInteger(_ node: Int, _ range: ClosedRange<Int64>) throws(ConfigError) -> Int64 {
    try readInteger(node, range, unit: "")
  }

  /// Reads a number (integer or decimal) within `low...high`.
  @inline(never)
  mutating func readDecimal(
    _ node: Int, from low: DecimalNumber, to high: DecimalNumber, nonZero: Bool = false
  )
    throws(ConfigError) -> DecimalNumber
  {
    if kind(node) == .number, let value = DecimalNumber.parse(doc.token(node)) {
      let double = value.double
      if double >= low.double && double <= high.double && !(nonZero && value.significand == 0) {
        return value
      }
    }
    var expected: [UInt8] = []
    expected.append(nonZero ? "a non-zero number from " : "a number from ")
    low.render(into: &expected)
    expected.append(" to ")
    high.render(into: &expected)
    throw mismatch(node, wantedType: .number, expected: expected, else: .range)
  }

  /// Reads `true` or `false`.
  @inline(never)
  mutating func readBool(_ node: Int) throws(ConfigError) -> Bool {
    guard kind(node) == .boolean else {
      throw mismatch(.type, at: node, expected: "true or false")
    }
    return doc.nodes[node].a != 0
  }

  /// Reads 0 or 1 (or `false`/`true`) as a level.
  @inline(never)
  mutating func readLevel(_ node: Int) throws(ConfigError) -> Bool {
    if kind(node) == .boolean { return doc.nodes[node].a != 0 }
    if kind(node) == .number, let value = integerToken(doc.token(node)), value == 0 || value == 1 {
      return value == 1
    }
    throw mismatch(node, wantedType: .number, expected: bytes("0 or 1"), else: .range)
  }

  /// Reads a string that is one of `options`; returns its index.
  @inline(never)
  mutating func readChoice(_ node: Int, _ words: StaticString) throws(ConfigError) -> Int {
    let options = Words(stringLiteral: words)
    if kind(node) == .string, let index = options.index(of: doc.string(node)) { return index }
    var expected: [UInt8] = []
    appendChoices(options, into: &expected)
    var suggested: [UInt8]? = nil
    if kind(node) == .string { suggested = suggestion(for: doc.string(node), among: options) }
    throw mismatch(kind(node) == .string ? .range : .type, at: node, expected: expected, suggested: suggested)
  }

  /// Reads an identifier-like name: 1 to 31 ASCII letters, digits, `_` or `-`, starting with a
  /// letter (task names and line keys; they appear unescaped in output records).
  @inline(never)
  mutating func readName(_ node: Int) throws(ConfigError) -> Name {
    if kind(node) == .string, let name = asName(doc.string(node)) { return name }
    throw mismatch(node, wantedType: .string, expected: nameExpectation(), else: .range)
  }

  /// What `readName` accepts, for messages.
  mutating func nameExpectation() -> [UInt8] {
    bytes("a name of 1 to 31 letters, digits, '_' or '-' starting with a letter")
  }

  /// Reads a kernel line or chip name: 1 to 31 printable ASCII characters, no spaces or quotes.
  @inline(never)
  mutating func readKernelName(_ node: Int) throws(ConfigError) -> Name {
    if kind(node) == .string {
      let text = doc.string(node)
      if !text.isEmpty && text.count <= Name.maxCount
        && text.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") }),
        let name = Name(text)
      {
        return name
      }
    }
    throw mismatch(
      node, wantedType: .string,
      expected: bytes("a name of 1 to 31 printable ASCII characters without spaces or quotes"),
      else: .range)
  }

  /// Reads free text of up to `FixedText<n>.maxCount` bytes with no control characters,
  /// quotes or backslashes (it goes into output records unescaped).
  mutating func readText<let n: Int>(_ node: Int, allowEmpty: Bool) throws(ConfigError) -> FixedText<n> {
    let text = try readTextBytes(node, allowEmpty: allowEmpty, maxCount: FixedText<n>.maxCount)
    var value = FixedText<n>()
    text.withUnsafeBufferPointer { value.append(bytes: $0) }  // Fits: checked above.
    return value
  }

  /// `readText`'s checks, once for every capacity: the text's bytes, at most `maxCount`.
  @inline(never)
  mutating func readTextBytes(_ node: Int, allowEmpty: Bool, maxCount: Int) throws(ConfigError)
    -> ArraySlice<UInt8>
  {
    if kind(node) == .string {
      let text = doc.string(node)
      if (allowEmpty || !text.isEmpty) && text.count <= maxCount
        && text.allSatisfy({
          $0 >= 0x20 && $0 != 0x7F && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\")
        })
      {
        return text
      }
    }
    var expected: [UInt8] = []
    expected.append("text of ")
    expected.append(allowEmpty ? "0" : "1")
    expected.append(" to ")
    expected.appendDecimal(maxCount)
    expected.append(" bytes without quotes, backslashes or control characters")
    throw mismatch(node, wantedType: .string, expected: expected, else: .range)
  }

  /// Reads a file path of 1 to 255 bytes without NUL; absolute (starting with `/`) if asked.
  @inline(never)
  mutating func readPath(_ node: Int, absolute: Bool) throws(ConfigError) -> Path {
    if kind(node) == .string {
      let text = doc.string(node)
      if !text.isEmpty && !text.contains(0) && (!absolute || text.first == UInt8(ascii: "/")),
        let path = Path(text)
      {
        return path
      }
    }
    let expected =
      absolute
      ? bytes("an absolute file path (starting with '/') of at most 255 bytes")
      : bytes("a file path of 1 to 255 bytes")
    throw mismatch(node, wantedType: .string, expected: expected, else: .range)
  }

  // MARK: Keyed readers: a key of an object, with the key pushed on the path

  /// The integer at `key` of `object` (`fallback` when absent; required when nil).
  @inline(never)
  mutating func integer(
    _ object: Int, _ key: StaticString, _ range: ClosedRange<Int64>, default fallback: Int64?,
    unit: StaticString
  ) throws(ConfigError) -> Int64 {
    guard case let (node, mark)? = enter(object, key) else {
      if let fallback { return fallback }
      var expected: [UInt8] = []
      expected.append("an integer")
      appendRange(range, into: &expected)
      throw missing(object, key, expected)
    }
    let value = try readInteger(node, range, unit: unit)
    pop(mark)
    return value
  }

  /// `integer` for a count with no unit (most keys): three arguments fewer at each call.
  @inline(never)
  mutating func integer(
    _ object: Int, _ key: StaticString, _ range: ClosedRange<Int64>, default fallback: Int64?
  ) throws(ConfigError) -> Int64 {
    try integer(object, key, range, default: fallback, unit: "")
  }

  /// A duration in milliseconds at `key` (`fallback` ms when absent; required when nil).
  @inline(never)
  mutating func milliseconds(
    _ object: Int, _ key: StaticString, _ range: ClosedRange<Int64>, default fallback: Int64?
  ) throws(ConfigError) -> Duration {
    .milliseconds(try integer(object, key, range, default: fallback, unit: "milliseconds"))
  }

  /// The number at `key` (`fallback` when absent; required when nil).
  @inline(never)
  mutating func decimal(
    _ object: Int, _ key: StaticString, from low: DecimalNumber, to high: DecimalNumber,
    default fallback: DecimalNumber?, nonZero: Bool = false
  ) throws(ConfigError) -> DecimalNumber {
    guard case let (node, mark)? = enter(object, key) else {
      if let fallback { return fallback }
      var expected: [UInt8] = []
      expected.append("a number from ")
      low.render(into: &expected)
      expected.append(" to ")
      high.render(into: &expected)
      throw missing(object, key, expected)
    }
    let value = try readDecimal(node, from: low, to: high, nonZero: nonZero)
    pop(mark)
    return value
  }

  /// The boolean at `key`, `fallback` when absent.
  @inline(never)
  mutating func boolean(_ object: Int, _ key: StaticString, default fallback: Bool) throws(ConfigError)
    -> Bool
  {
    guard case let (node, mark)? = enter(object, key) else { return fallback }
    let value = try readBool(node)
    pop(mark)
    return value
  }

  /// The choice at `key` as an index into `options` (`fallback` when absent; required when nil).
  @inline(never)
  mutating func choice(
    _ object: Int, _ key: StaticString, _ options: StaticString, default fallback: Int?
  ) throws(ConfigError) -> Int {
    guard case let (node, mark)? = enter(object, key) else {
      if let fallback { return fallback }
      var expected: [UInt8] = []
      appendChoices(Words(stringLiteral: options), into: &expected)
      throw missing(object, key, expected)
    }
    let value = try readChoice(node, options)
    pop(mark)
    return value
  }

  /// The text at `key` (`fallback` when absent; required when nil).
  @inline(never)
  mutating func text<let n: Int>(
    _ object: Int, _ key: StaticString, allowEmpty: Bool, default fallback: FixedText<n>?
  ) throws(ConfigError) -> FixedText<n> {
    var required = true
    if case .some = fallback { required = false }
    guard
      let text = try textBytes(
        object, key, allowEmpty: allowEmpty, required: required, maxCount: FixedText<n>.maxCount)
    else { return fallback! }
    var value = FixedText<n>()
    text.withUnsafeBufferPointer { value.append(bytes: $0) }  // Fits: checked by readTextBytes.
    return value
  }

  /// `text`'s work, once for every capacity: the bytes at `key`, nil when absent and not
  /// `required`.
  @inline(never)
  mutating func textBytes(
    _ object: Int, _ key: StaticString, allowEmpty: Bool, required: Bool, maxCount: Int
  ) throws(ConfigError) -> ArraySlice<UInt8>? {
    guard case let (node, mark)? = enter(object, key) else {
      if !required { return nil }
      throw missing(object, key, "text")
    }
    let value = try readTextBytes(node, allowEmpty: allowEmpty, maxCount: maxCount)
    pop(mark)
    return value
  }

  /// The path at `key`, required.
  @inline(never)
  mutating func path(_ object: Int, _ key: StaticString, absolute: Bool) throws(ConfigError) -> Path {
    guard case let (node, mark)? = enter(object, key) else {
      throw missing(
        object, key, absolute ? bytes("an absolute file path") : bytes("a file path"))
    }
    let value = try readPath(node, absolute: absolute)
    pop(mark)
    return value
  }
}

// MARK: - Helpers

/// ` from <low> to <high>` for messages.
@inline(never)
func appendRange(_ range: ClosedRange<Int64>, into out: inout [UInt8]) {
  out.append(" from ")
  out.appendDecimal(range.lowerBound)
  out.append(" to ")
  out.appendDecimal(range.upperBound)
}

/// `"a", "b" or "c"` for messages.
@inline(never)
func appendChoices(_ options: Words, into out: inout [UInt8]) {
  if options.count > 2 { out.append("one of ") }
  for index in options.list.indices {
    if index > 0 { out.append(index == options.count - 1 ? " or " : ", ") }
    out.appendQuoted(options.list[index])
  }
}

/// Whether `byte` may appear in a name: ASCII letter, digit, `_` or `-`.
func isNameByte(_ byte: UInt8) -> Bool {
  (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
    || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
    || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || byte == UInt8(ascii: "_")
    || byte == UInt8(ascii: "-")
}

/// `bytes` as a name if they are one (see `Validator.readName`).
func asName(_ bytes: ArraySlice<UInt8>) -> Name? {
  guard let first = bytes.first, bytes.count <= Name.maxCount, bytes.allSatisfy(isNameByte),
    (first | 0x20) >= UInt8(ascii: "a") && (first | 0x20) <= UInt8(ascii: "z")
  else { return nil }
  return Name(bytes)
}

/// The value of an integer token (no fraction or exponent) if it fits an Int64.
func integerToken(_ token: ArraySlice<UInt8>) -> Int64? {
  var index = token.startIndex
  var negative = false
  if index < token.endIndex && token[index] == UInt8(ascii: "-") {
    negative = true
    index += 1
  }
  guard index < token.endIndex else { return nil }
  var magnitude: UInt64 = 0
  while index < token.endIndex {
    let byte = token[index]
    guard byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") else { return nil }
    let (times10, overflow1) = magnitude.multipliedReportingOverflow(by: 10)
    let (sum, overflow2) = times10.addingReportingOverflow(UInt64(byte - UInt8(ascii: "0")))
    if overflow1 || overflow2 { return nil }
    magnitude = sum
    index += 1
  }
  if negative {
    if magnitude > UInt64(Int64.max) + 1 { return nil }
    return magnitude == UInt64(Int64.max) + 1 ? Int64.min : -Int64(magnitude)
  }
  return magnitude > UInt64(Int64.max) ? nil : Int64(magnitude)
}
