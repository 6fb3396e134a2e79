// The InfluxDB line-protocol output (`"output": {"format": "influx"}`, for Telegraf's `execd`
// or `exec` input): the ring turns each finished JSON record into one line
//
//   {"t_ns":…,"wall_ns":1764633600000000000,"task":"wind","event":"reading","count":10,"value":24.000,"unit":"km/h"}
//   reading,task=wind count=10i,value=24.000,unit="km/h" 1764633600000000000
//
// measurement = the record's event, one tag `task`, every other value a field (a JSON integer
// an integer `…i`, a decimal a float, `true`/`false` a boolean, text a string; `null`, a value
// that was not finite, is left out), and the wall-clock time as the timestamp. `t_ns` is not
// written: line protocol has one timestamp. A record with no value of its own (a press) gets
// `count=1i`, since a point needs a field. Conversion works on the JSON text, so every record
// any task writes converts the same way, in a fixed buffer, without the heap.
//
// Escaping, per the line-protocol reference: a backslash before `,` and space in the
// measurement, before `,`, `=` and space in tag keys, tag values and field keys, and before `"`
// and `\` in string fields. A backslash in a name is written as it is, as Telegraf's own
// serializer and InfluxDB 1.x's parser treat it (parsers differ on `\\` there; names from the
// config cannot hold one). Line protocol has no newline inside a value: a control byte becomes
// a space.

import LoopCore

/// How the output writes records.
public enum OutputFormat: Equatable, Sendable {
  /// One JSON object per line (the default).
  case json
  /// InfluxDB line protocol, one point per line.
  case influx
}

/// One line of InfluxDB line protocol, converted from a finished JSON record.
public struct InfluxLine: ByteAppending {
  /// The longest line; escaping may make a line longer than its JSON record (320 bytes).
  public static let capacity = 512

  private var bytes = InlineArray<512, UInt8>(repeating: 0)
  /// Bytes written so far.
  public private(set) var count = 0
  /// Whether something did not fit (the line is then not emitted).
  public private(set) var overflowed = false

  /// The JSON record `record` (`{"t_ns":…,"wall_ns":…,"task":"…","event":"…",…}` and its
  /// newline, as `RecordLine` writes it) as a line-protocol line; nil when it is not a flat
  /// JSON object of strings, numbers, booleans and nulls.
  public init?(record: Span<UInt8>) {
    var members = InlineArray<48, JSONMember>(repeating: JSONMember())
    guard let count = JSONMember.scan(record, into: &members) else { return nil }
    var event: JSONMember? = nil
    var task: JSONMember? = nil
    var wall: JSONMember? = nil
    for i in 0..<count {
      let m = members[i]
      if m.isKey(record, "event") && m.kind == .string {
        event = m
      } else if m.isKey(record, "task") && m.kind == .string {
        task = m
      } else if m.isKey(record, "wall_ns") && m.kind == .number {
        wall = m
      }
    }
    // Measurement: the event, or the program's name for a record without one.
    if let event, event.valueEnd > event.valueStart {
      appendUnescaped(record, event, .measurement)
    } else {
      append("sensorloop")
    }
    if let task, task.valueEnd > task.valueStart {
      append(",task=")
      appendUnescaped(record, task, .tag)
    }
    var fields = 0
    for i in 0..<count {
      let m = members[i]
      if m.kind == .null || m.isKey(record, "t_ns") || m.isKey(record, "wall_ns") { continue }
      if m.isKey(record, "task") && m.kind == .string { continue }
      if m.isKey(record, "event") && m.kind == .string { continue }
      append(byte: fields == 0 ? 0x20 : 0x2C)
      fields += 1
      // The key: JSON-escaped text, written with the tag escapes.
      appendUnescaped(record, JSONMember(start: m.keyStart, end: m.keyEnd), .tag)
      append(byte: 0x3D)
      switch m.kind {
      case .string:
        append(byte: 0x22)
        appendUnescaped(record, m, .stringField)
        append(byte: 0x22)
      case .number:
        var integer = true
        for j in m.valueStart..<m.valueEnd {
          let b = record[j]
          if b == 0x2E || b == 0x65 || b == 0x45 { integer = false }
          append(byte: b)
        }
        if integer { append(byte: 0x69) }  // i
      case .literal:
        for j in m.valueStart..<m.valueEnd { append(byte: record[j]) }
      case .null:
        break
      }
    }
    if fields == 0 { append(" count=1i") }
    if let wall {
      append(byte: 0x20)
      for j in wall.valueStart..<wall.valueEnd { append(byte: record[j]) }
    }
    append(byte: 0x0A)
  }

  /// The bytes of the line.
  public func withBytes<R>(_ body: (Span<UInt8>) -> R) -> R {
    body(bytes.span.extracting(0..<count))
  }

  public mutating func append(byte: UInt8) {
    if count >= InfluxLine.capacity {
      overflowed = true
      return
    }
    // SAFETY: 0 <= count < capacity here (count only grows from 0, by one, below capacity).
    bytes[unchecked: count] = byte
    count += 1
  }

  /// Where text goes in a line, which decides its escapes.
  enum Place { case measurement, tag, stringField }

  /// Writes the JSON string in `record` at `m`'s value (escapes undone) with `place`'s escapes.
  private mutating func appendUnescaped(_ record: Span<UInt8>, _ m: JSONMember, _ place: Place) {
    var i = m.valueStart
    while i < m.valueEnd {
      var b = record[i]
      i += 1
      if b == 0x5C && i < m.valueEnd {
        let e = record[i]
        i += 1
        switch e {
        case 0x75:  // \u00XX: RecordLine writes control bytes and DEL so.
          var code: UInt32 = 0
          var digits = 0
          while digits < 4 && i < m.valueEnd {
            code = code << 4 | UInt32(JSONMember.hexValue(record[i]))
            i += 1
            digits += 1
          }
          b = code < 0x80 ? UInt8(code) : 0x3F  // ?: never written by RecordLine
        case 0x6E, 0x74, 0x72, 0x62, 0x66: b = 0x20  // \n \t \r \b \f: a control byte
        default: b = e  // \" \\ \/
        }
      }
      appendEscaped(b, place)
    }
  }

  private mutating func appendEscaped(_ byte: UInt8, _ place: Place) {
    let b: UInt8 = byte < 0x20 || byte == 0x7F ? 0x20 : byte
    switch place {
    case .measurement:
      if b == 0x2C || b == 0x20 { append(byte: 0x5C) }
    case .tag:
      if b == 0x2C || b == 0x3D || b == 0x20 { append(byte: 0x5C) }
    case .stringField:
      if b == 0x22 || b == 0x5C { append(byte: 0x5C) }
    }
    append(byte: b)
  }
}

/// One `"key":value` of a flat JSON object: where its key's text and its value are.
struct JSONMember {
  /// What the value is.
  enum Kind { case string, number, literal, null }

  /// The key's text (between its quotes).
  var keyStart = 0
  var keyEnd = 0
  /// The value's text: between the quotes for a string, the whole token otherwise.
  var valueStart = 0
  var valueEnd = 0
  var kind = Kind.null

  init() {}

  /// A string's text between `start` and `end`, as a value (to write a key like one).
  init(start: Int, end: Int) {
    valueStart = start
    valueEnd = end
    kind = .string
  }

  /// Whether the key is `name`.
  @inline(never)
  func isKey(_ record: Span<UInt8>, _ name: StaticString) -> Bool {
    guard keyEnd - keyStart == name.utf8CodeUnitCount else { return false }
    let p = name.utf8Start
    for i in 0..<(keyEnd - keyStart) where record[keyStart + i] != p[i] { return false }
    return true
  }

  /// Reads the members of the one flat object in `record` (trailing newline allowed); the
  /// count, or nil when the text is not such an object or has more members than `members`.
  static func scan(_ record: Span<UInt8>, into members: inout InlineArray<48, JSONMember>) -> Int? {
    var i = 0
    let n = record.count
    guard n > 0, record[0] == 0x7B else { return nil }
    i = 1
    var count = 0
    if i < n && record[i] == 0x7D { return 0 }
    while true {
      guard count < 48, let key = string(record, from: i) else { return nil }
      var m = JSONMember()
      m.keyStart = key.start
      m.keyEnd = key.end
      i = key.next
      guard i < n, record[i] == 0x3A else { return nil }
      i += 1
      guard i < n else { return nil }
      if record[i] == 0x22 {
        guard let value = string(record, from: i) else { return nil }
        m.valueStart = value.start
        m.valueEnd = value.end
        m.kind = .string
        i = value.next
      } else {
        let start = i
        while i < n && record[i] != 0x2C && record[i] != 0x7D { i += 1 }
        guard i > start else { return nil }
        m.valueStart = start
        m.valueEnd = i
        let first = record[start]
        if first == 0x2D || (first >= 0x30 && first <= 0x39) {
          m.kind = .number
        } else if first == 0x6E {
          m.kind = .null
        } else if first == 0x74 || first == 0x66 {
          m.kind = .literal
        } else {
          return nil
        }
      }
      members[count] = m
      count += 1
      guard i < n else { return nil }
      if record[i] == 0x7D { return count }
      guard record[i] == 0x2C else { return nil }
      i += 1
    }
  }

  /// The string starting at the quote at `i`: its text's range and the index after its
  /// closing quote.
  @inline(never)
  private static func string(_ record: Span<UInt8>, from i: Int) -> (start: Int, end: Int, next: Int)? {
    guard i < record.count, record[i] == 0x22 else { return nil }
    var j = i + 1
    while j < record.count {
      let b = record[j]
      if b == 0x5C {
        j += 2
        continue
      }
      if b == 0x22 { return (i + 1, j, j + 1) }
      j += 1
    }
    return nil
  }

  /// The value of a hex digit (0 for anything else).
  static func hexValue(_ b: UInt8) -> UInt8 {
    switch b {
    case 0x30...0x39: return b - 0x30
    case 0x41...0x46: return b - 0x41 + 10
    case 0x61...0x66: return b - 0x61 + 10
    default: return 0
    }
  }
}
