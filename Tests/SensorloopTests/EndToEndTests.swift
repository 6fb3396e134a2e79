// The built `sensorloop` binary, run as a user runs it: on the simulated board for a bounded
// time (records checked against the scripted stimuli of Boards/sim.json), stopped by SIGINT and
// asked for a summary by SIGUSR1, with bad usage and bad configs, and — release build with the
// allocation counter preloaded — allocating nothing after startup.

import Foundation
import Testing

/// The package root (this file is Tests/SensorloopTests/EndToEndTests.swift).
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
  .deletingLastPathComponent()

/// The build folder the test binary runs from (`.build/debug`).
let buildFolder = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()

/// What one run of sensorloop did.
struct Run {
  var status: Int32
  var stdout: String
  var stderr: String

  /// Stdout's lines decoded as JSON objects (the test fails on a line that is not one).
  var records: [[String: Any]] {
    stdout.split(separator: "\n").compactMap { line in
      let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
      #expect(object != nil, "not a JSON object: \(line)")
      return object
    }
  }

  func events(_ task: String, _ event: String? = nil) -> [[String: Any]] {
    records.filter { $0["task"] as? String == task && (event == nil || $0["event"] as? String == event) }
  }
}

/// Runs `binary` with `arguments`; `whileRunning` may signal it; waits at most `timeout`.
func sensorloop(
  _ arguments: [String], binary: URL = buildFolder.appendingPathComponent("sensorloop"),
  environment: [String: String] = [:], timeout: TimeInterval = 60, whileRunning: (Process) -> Void = { _ in }
) throws -> Run {
  let process = Process()
  process.executableURL = binary
  process.arguments = arguments
  process.currentDirectoryURL = packageRoot
  process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
  let out = Pipe()
  let err = Pipe()
  process.standardOutput = out
  process.standardError = err
  // Read both pipes while it runs, so a chatty run cannot fill a pipe and stall.
  let outData = LockedData()
  let errData = LockedData()
  out.fileHandleForReading.readabilityHandler = { outData.append($0.availableData) }
  err.fileHandleForReading.readabilityHandler = { errData.append($0.availableData) }
  try process.run()
  whileRunning(process)
  let deadline = Date().addingTimeInterval(timeout)
  while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
  if process.isRunning {
    process.terminate()
    Issue.record("sensorloop \(arguments) did not finish within \(timeout) s")
  }
  process.waitUntilExit()
  out.fileHandleForReading.readabilityHandler = nil
  err.fileHandleForReading.readabilityHandler = nil
  outData.append(out.fileHandleForReading.readDataToEndOfFile())
  errData.append(err.fileHandleForReading.readDataToEndOfFile())
  return Run(status: process.terminationStatus, stdout: outData.string, stderr: errData.string)
}

final class LockedData: @unchecked Sendable {
  private var data = Data()
  private let lock = NSLock()
  func append(_ more: Data) { lock.withLock { data.append(more) } }
  var string: String { lock.withLock { String(decoding: data, as: UTF8.self) } }
}

@Suite(.serialized) struct SimulatedBoardTests {
  @Test func recordsMatchTheScriptedStimuli() throws {
    let run = try sensorloop(["--config", "Boards/sim.json", "--duration", "8"])
    #expect(run.status == 0, "\(run.stderr)")
    // Five bouncy presses of 150 ms from 0.5 s, one every second; a 1.5 s press at 6 s.
    #expect(run.events("button", "press").count == 6)
    #expect(run.events("button", "release").count == 6)
    #expect(run.events("button", "long_press").count == 1)
    let held = run.events("button", "release").compactMap { $0["held_ms"] as? Int }
    #expect(held.prefix(5).allSatisfy { (145...155).contains($0) }, "\(held)")
    #expect(held.last.map { (1495...1505).contains($0) } == true, "\(held)")
    // The relay starts off and each of the six presses toggles it.
    let relay = run.stdout.split(separator: "\n").filter { $0.contains(#""task":"relay""#) }
    #expect(relay.count == 7, "\(relay)")
    #expect(relay.first?.contains(#""event":"off","initial":true"#) == true, "\(relay)")
    #expect(run.events("relay", "on").count == 3 && run.events("relay", "off").count == 4)
    // The fan curve follows the fake thermal zone: 45 °C (20 %) at the start, 58 °C (100 %) at 5 s.
    let duties = run.events("fan_curve", "duty").compactMap { $0["duty_percent"] as? Double }
    #expect(duties.prefix(6) == [20, 32, 47.5, 70, 92.5, 100], "\(duties)")
    // 10 Hz anemometer pulses, one reading per second: 10 pulses, 24 km/h.
    let wind = run.events("wind", "reading")
    #expect((7...8).contains(wind.count))
    if underSanitizer {
      // A stall of a second (seen under ASan) moves a window's pulses into the next: none lost.
      let counts = wind.compactMap { $0["count"] as? Int }
      #expect(counts.reduce(0, +) == 10 * counts.count, "\(wind)")
    } else {
      #expect(wind.allSatisfy { $0["count"] as? Int == 10 && $0["value"] as? Double == 24 }, "\(wind)")
    }
    // 48 steps clockwise (12 detents), then 16 back (4): ends at 8.
    let knob = run.events("knob", "step")
    #expect(knob.count == 16)
    #expect(knob.last?["position"] as? Int == 8)
    // The fake thermal zone reaches 57 °C at 4 s: the fan turns on once (it cools below 50 later).
    #expect(run.events("fan", "on").count == 1)
    #expect(run.events("soc_temp", "reading").count >= 7)
    #expect(run.events("tick", "tick").count == 1)
    // The summary ends the run on stderr.
    #expect(run.stderr.contains("sensorloop: summary after"))
    #expect(run.stderr.contains("0 dropped (ring full)"))
    // Rendered after the last flush: every record was written, and the summary says so (it
    // once counted the records still waiting before the flush as unwritten).
    let records = run.stdout.split(separator: "\n").count
    #expect(
      run.stderr.contains(
        "output: \(records) records, 0 dropped (ring full), 0 truncated, 0 bytes unwritten"), "\(run.stderr)")
  }

  @Test func sigintStopsCleanlyWithASummary() throws {
    let run = try sensorloop(["--config", "Boards/sim.json"]) { process in
      Thread.sleep(forTimeInterval: 1.5)
      kill(process.processIdentifier, SIGUSR1)
      Thread.sleep(forTimeInterval: 0.5)
      kill(process.processIdentifier, SIGINT)
    }
    #expect(run.status == 0)
    // SIGUSR1 printed one summary without stopping; SIGINT the final one.
    #expect(run.stderr.components(separatedBy: "sensorloop: summary after").count - 1 == 2)
    #expect(run.events("soc_temp", "reading").count >= 2)
  }

  @Test func heapAllocationsAfterStartupAreZero() throws {
    // The release build is what runs on a board; the counter is the repo's own interposer,
    // preloaded into the real program.
    let release = try releaseSensorloop()
    let library = FileManager.default.temporaryDirectory.appendingPathComponent(
      "liballoccounter-\(getpid()).so")
    try buildAllocCounter(at: library)
    defer { try? FileManager.default.removeItem(at: library) }
    let run = try sensorloop(
      ["--config", "Boards/sim.json", "--duration", "3"], binary: release,
      environment: ["LD_PRELOAD": library.path])
    #expect(run.status == 0)
    #expect(run.records.count > 20)
    #expect(run.stderr.contains("heap allocations after startup: 0\n"), "\(run.stderr)")
  }
}

@Suite struct CommandLineTests {
  @Test func versionHelpAndCheck() throws {
    let version = try sensorloop(["--version"])
    #expect(version.status == 0 && version.stdout.hasPrefix("sensorloop "))
    let help = try sensorloop(["--help"])
    #expect(help.status == 0 && help.stdout.contains("--duration SECONDS"))
    let check = try sensorloop(["--config", "Boards/sim.json", "--check"])
    #expect(check.status == 0)
    #expect(check.stdout.contains("slots"), "\(check.stdout)")
    #expect(check.stdout.contains("timers"))
    // The realistic wirings check on any host (their devices are looked for at startup only).
    for board in ["Boards/fan-controller.json", "Boards/weather-station.json"] {
      let check = try sensorloop(["--config", board, "--check"])
      #expect(check.status == 0 && check.stdout.contains("slots"), "\(board): \(check.stderr)")
    }
  }

  @Test func badUsageExitsTwoWithTheUsage() throws {
    for arguments in [[], ["--config"], ["--bogus"], ["--config", "Boards/sim.json", "--duration", "soon"]] {
      let run = try sensorloop(arguments)
      #expect(run.status == 2, "\(arguments)")
      #expect(run.stderr.hasPrefix("sensorloop: "), "\(arguments): \(run.stderr)")
      #expect(run.stderr.contains("usage: sensorloop --config FILE"))
      #expect(run.stdout.isEmpty)
    }
  }

  @Test func badConfigsExitTwoNamingFileAndPlace() throws {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("sensorloop-e2e-\(getpid())")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    let cases: [(String, String?, String)] = [
      ("missing.json", nil, "missing.json"),
      ("syntax.json", "{\n  \"board\": \"x\",,\n}", "syntax.json:2:"),
      ("empty.json", "", "empty.json"),
      (
        "period.json",
        String(
          decoding: try Data(contentsOf: packageRoot.appendingPathComponent("Boards/sim.json")), as: UTF8.self
        )
        .replacingOccurrences(of: "\"period_ms\": 5000", with: "\"period_ms\": \"fast\""),
        "tasks[7].period_ms"
      ),
    ]
    for (name, contents, expected) in cases {
      let path = folder.appendingPathComponent(name)
      if let contents { try Data(contents.utf8).write(to: path) }
      let run = try sensorloop(["--config", path.path])
      #expect(run.status == 2, "\(name): \(run.stderr)")
      #expect(run.stderr.contains(expected), "\(name): \(run.stderr)")
      #expect(run.stdout.isEmpty, "\(name): nothing may start")
    }
  }
}
