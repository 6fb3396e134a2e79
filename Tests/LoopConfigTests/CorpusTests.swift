// The bad-config corpus: every file in bad/ must be refused with exactly the message in the
// `.expected` file next to it (one line, the file named by its base name). A `.expected`
// without a config names a file that does not exist. `directory.json` is a directory.
//
// After an intended change of wording, regenerate with `SENSORLOOP_BLESS=1` and review the diff.

import Foundation
import LoopConfig
import Testing

@Suite struct CorpusTests {
  /// The corpus entries' base names (`syntax-comment.json`, `missing.json` ...).
  static let entries: [String] = {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: badDirectory.path)) ?? []
    var entries = Set<String>()
    for name in names {
      if name.hasSuffix(".json") { entries.insert(name) }
      if name.hasSuffix(".expected") { entries.insert(String(name.dropLast(".expected".count)) + ".json") }
    }
    return entries.sorted()
  }()

  @Test func corpusIsLargeEnough() {
    #expect(Self.entries.count >= 35)
  }

  @Test(arguments: entries) func badConfigIsRefusedWithItsMessage(name: String) throws {
    let path = badDirectory.appendingPathComponent(name).path
    let rendered: String
    do throws(ConfigError) {
      _ = try loadBoardConfig(path: Array(path.utf8))
      Issue.record("\(name) was accepted")
      return
    } catch {
      rendered = String(decoding: error.rendered, as: UTF8.self)
        .replacingOccurrences(of: badDirectory.path + "/", with: "")
    }
    let expectedURL = badDirectory.appendingPathComponent(
      String(name.dropLast(".json".count)) + ".expected")
    if ProcessInfo.processInfo.environment["SENSORLOOP_BLESS"] == "1" {
      try (rendered + "\n").write(to: expectedURL, atomically: true, encoding: .utf8)
      return
    }
    let expected = try String(contentsOf: expectedURL, encoding: .utf8)
    #expect(rendered + "\n" == expected)
    #expect(!rendered.contains("\n"))
  }
}
