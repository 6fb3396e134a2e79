// The one error a config load reports: the file, the JSON path, line:column and what was
// expected, rendered as one line in the compiler style editors jump to:
//
//   board.json:14:20: tasks[2].period_ms: expected an integer from 1 to 3600000, found "fast"
//
// Messages are bytes (no `String` building, which Embedded Swift cannot do without
// allocating Unicode tables); `render(into:)` appends the line without a trailing newline.

/// Why a config was rejected: a typed error carrying everything its message needs.
public struct ConfigError: Error, Sendable {
  /// The broad class of the problem, for callers and tests that branch on it.
  public enum Kind: Equatable, Sendable {
    /// The file could not be read (missing, a directory, unreadable, too large).
    case file
    /// The file is not valid JSON.
    case syntax
    /// A value has the wrong JSON type.
    case type
    /// A key the schema does not know.
    case unknownKey
    /// A key written twice in one object.
    case duplicateKey
    /// A required key is absent.
    case missingKey
    /// A value outside its allowed range or set.
    case range
    /// A name that refers to no line or task.
    case reference
    /// Two things that cannot both hold (a line used twice, an input used as an output).
    case conflict
    /// More of something than the fixed capacities allow.
    case capacity
  }

  /// The fields, behind one reference: a typed error this small is passed back in a register,
  /// where six fields were copied through memory at each of the validator's ~240 `try`s.
  private final class Fields: Sendable {
    let kind: Kind
    let file: [UInt8]
    let path: [UInt8]
    let line: Int
    let column: Int
    let message: [UInt8]

    init(kind: Kind, file: [UInt8], path: [UInt8], line: Int, column: Int, message: [UInt8]) {
      self.kind = kind
      self.file = file
      self.path = path
      self.line = line
      self.column = column
      self.message = message
    }
  }

  private let fields: Fields

  /// The broad class of the problem.
  public var kind: Kind { fields.kind }
  /// The file name as the user gave it.
  public var file: [UInt8] { fields.file }
  /// The JSON path of the offending value (`tasks[2].period_ms`), empty for the whole file.
  public var path: [UInt8] { fields.path }
  /// 1-based line of the offending value, 0 when the error has no position.
  public var line: Int { fields.line }
  /// 1-based column (in characters), 0 when the error has no position.
  public var column: Int { fields.column }
  /// What was expected and what was found.
  public var message: [UInt8] { fields.message }

  /// An error of `kind` at `line`:`column` of `file`.
  public init(kind: Kind, file: [UInt8], path: [UInt8], line: Int, column: Int, message: [UInt8]) {
    fields = Fields(kind: kind, file: file, path: path, line: line, column: column, message: message)
  }

  /// Appends the one-line message `file:line:column: path: message` (no newline).
  public func render(into out: inout [UInt8]) {
    out.append(contentsOf: file)
    out.append(byte: UInt8(ascii: ":"))
    if line > 0 {
      out.appendDecimal(line)
      out.append(byte: UInt8(ascii: ":"))
      out.appendDecimal(column)
      out.append(byte: UInt8(ascii: ":"))
    }
    out.append(byte: UInt8(ascii: " "))
    if !path.isEmpty {
      out.append(contentsOf: path)
      out.append(": ")
    }
    out.append(contentsOf: message)
  }

  /// The rendered one-line message.
  public var rendered: [UInt8] {
    var out: [UInt8] = []
    render(into: &out)
    return out
  }
}
