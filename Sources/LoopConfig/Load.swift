// The entry points the program calls: load and validate a board.json in one step, before
// anything starts. Parsing and validation never touch the system, so tests can feed bytes.

/// Reads, parses and validates the board.json at `path` (UTF-8 bytes, no NUL). Messages name
/// the file as `path`.
public func loadBoardConfig(path: [UInt8]) throws(ConfigError) -> BoardConfig {
  try parseBoardConfig(try readConfigFile(path: path, display: path), fileName: path)
}

/// Reads, parses and validates the board.json at the NUL-terminated `path` (an argv entry).
public func loadBoardConfig(cString path: UnsafePointer<CChar>) throws(ConfigError) -> BoardConfig {
  var bytes: [UInt8] = []
  var index = 0
  // SAFETY: the caller passes a NUL-terminated string (an argv entry); reading stops at the NUL.
  while path[index] != 0 {
    bytes.append(byte: UInt8(bitPattern: path[index]))
    index += 1
  }
  return try loadBoardConfig(path: bytes)
}

/// Parses and validates board.json content; `fileName` is what messages call the file.
public func parseBoardConfig(_ bytes: [UInt8], fileName: [UInt8]) throws(ConfigError) -> BoardConfig {
  let document: JSONDocument
  do {
    document = try JSONReader.parse(bytes)
  } catch {
    let probe = JSONDocument(source: bytes)
    let position = probe.position(of: error.offset)
    throw ConfigError(
      kind: .syntax, file: fileName, path: [], line: position.line, column: position.column,
      message: error.message)
  }
  var validator = Validator(doc: document, file: fileName)
  return try validator.validateBoard()
}
