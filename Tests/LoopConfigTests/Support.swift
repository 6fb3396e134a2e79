// Shared helpers for the LoopConfig tests: where the repository's files are, and loading
// configs from text with messages as Swift strings.

import Foundation
import LoopConfig
import LoopCore

/// The repository root, found from this file's path.
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
  .deletingLastPathComponent()

/// The bad-config corpus.
let badDirectory = repositoryRoot.appendingPathComponent("Tests/LoopConfigTests/bad")

/// Parses `text` as `board.json`; the config or the rendered error.
func parse(_ text: String, file: String = "board.json") -> Result<BoardConfig, ConfigError> {
  do throws(ConfigError) {
    return .success(try parseBoardConfig(Array(text.utf8), fileName: Array(file.utf8)))
  } catch {
    return .failure(error)
  }
}

/// The rendered message of the error `text` gives, or "ok" when it is valid.
func message(_ text: String) -> String {
  switch parse(text) {
  case .success: return "ok"
  case .failure(let error): return String(decoding: error.rendered, as: UTF8.self)
  }
}

/// Parses `text`, which must be valid.
func valid(_ text: String) throws -> BoardConfig {
  switch parse(text) {
  case .success(let config): return config
  case .failure(let error):
    throw TestFailure(String(decoding: error.rendered, as: UTF8.self))
  }
}

/// A failure carrying a config error's message.
struct TestFailure: Error, CustomStringConvertible {
  var description: String
  init(_ description: String) { self.description = description }
}

extension FixedText {
  /// The text as a Swift string (tests only).
  var string: String { String(decoding: bytes, as: UTF8.self) }
}

/// A minimal valid config on the mock chip with `lines` and `tasks` spliced in.
func mockConfig(lines: String = "", tasks: String, extra: String = "") -> String {
  """
  {
    "board": "test",
    "gpio": "mock",
    "lines": {\(lines)},
    "tasks": [\(tasks)]\(extra)
  }
  """
}
