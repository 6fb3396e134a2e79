// The code written from Sources/LoopConfig/Kinds/registry.txt (`TaskKind` and its dispatch,
// `FirmwareTask`) is what Kinds/generate writes from the list today, and the list names each
// kind as the kind's own file does.

import Foundation
import Testing

@testable import LoopConfig

@Suite struct GeneratedKindsTests {
  /// Fails when a kind's line was added or changed without running Kinds/generate.
  @Test func generatedFilesAreCurrent() throws {
    let script = repositoryRoot.appendingPathComponent("Sources/LoopConfig/Kinds/generate")
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/bash")
    process.arguments = [script.path, "--check"]
    let output = Pipe()
    process.standardOutput = output
    process.standardError = output
    try process.run()
    let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    #expect(process.terminationStatus == 0, "run Sources/LoopConfig/Kinds/generate:\n\(text)")
  }

  /// The list's JSON names (the summary's "kind" column) are the kinds' own `name`s, in the
  /// registry's order.
  @Test func listNamesEachKindAsItsFile() throws {
    let list = try String(
      contentsOf: repositoryRoot.appendingPathComponent("Sources/LoopConfig/Kinds/registry.txt"),
      encoding: .utf8)
    var listed: [String] = []
    for line in list.split(separator: "\n") {
      let columns = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
      guard let first = columns.first, !first.hasPrefix("#") else { continue }
      #expect(columns.count == 4, "\(line)")
      if columns.count == 4 && columns[2] != "-" { listed.append(String(columns[1])) }
    }
    #expect(listed == TaskKind.registry.map { String(describing: $0.name) })
    #expect(TaskKind.registry.indices.map { TaskKind.registry[$0].index } == Array(TaskKind.registry.indices))
  }
}
