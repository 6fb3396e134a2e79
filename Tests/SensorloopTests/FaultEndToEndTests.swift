// Faults made for real around the built binary: too few file descriptors for startup (every
// step that needs one fails in turn), the process stopped and continued hundreds of times
// (each SIGCONT interrupts epoll_wait: a real EINTR storm) and once for a second (a stalled
// loop), stdout into a pipe whose reader exits (EPIPE), and stdout into a pipe nobody reads
// (the loop must go on, and SIGINT must still stop the program promptly).

import Foundation
import Testing

/// A folder for one test's configs and files, removed afterwards by the caller.
private func scratchFolder(_ name: String) throws -> URL {
  let folder = FileManager.default.temporaryDirectory.appendingPathComponent("sensorloop-\(name)-\(getpid())")
  try? FileManager.default.removeItem(at: folder)
  try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
  return folder
}

/// Writes `json` as `name` in `folder` and returns its path.
private func writeConfig(_ json: String, _ name: String, in folder: URL) throws -> String {
  let path = folder.appendingPathComponent(name).path
  try Data(json.utf8).write(to: URL(fileURLWithPath: path))
  return path
}

/// A board with fast tickers and a watchdog that watches them (and kicks `watchdog`, a
/// character device), writing to stdout.
private func tickerBoard(
  fast: Int, watchdog: String = "/dev/null", kick: Int, stall: Int, ringBytes: Int = 65_536
)
  -> String
{
  """
  {
    "board": "fault test board",
    "gpio": "mock",
    "lines": { "led": { "name": "GPIO17", "direction": "output" } },
    "tasks": [
      { "name": "tick", "kind": "ticker", "period_ms": \(fast) },
      { "name": "slow", "kind": "ticker", "period_ms": 100 },
      { "name": "heartbeat", "kind": "heartbeat", "line": "led", "pattern_ms": [50, 50] },
      { "name": "watchdog", "kind": "watchdog", "device": "\(watchdog)", "kick_ms": \(kick),
        "stall_ms": \(stall), "watch": ["tick", "slow"] }
    ],
    "output": { "to": "stdout", "ring_bytes": \(ringBytes) }
  }
  """
}

/// The columns of `task`'s row in the last summary of `stderr`, by heading.
private func summaryRow(_ stderr: String, _ task: String) -> [String: Int] {
  let last = stderr.components(separatedBy: "sensorloop: summary after").last ?? ""
  let lines = last.split(separator: "\n")
  guard let header = lines.first(where: { $0.hasPrefix("task ") }),
    let row = lines.last(where: { $0.hasPrefix(task + " ") })
  else { return [:] }
  let headings = header.split(separator: " ").map(String.init)
  let values = row.split(separator: " ").map(String.init)
  var result: [String: Int] = [:]
  for (heading, value) in zip(headings, values) { result[heading] = Int(value) }
  return result
}

/// The numbers on the summary's `loop:` line: waits, interrupted, overruns.
private func loopLine(_ stderr: String) -> (waits: Int, interrupted: Int, overruns: Int)? {
  guard let line = stderr.split(separator: "\n").last(where: { $0.hasPrefix("loop: ") }) else { return nil }
  let numbers = line.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }
  guard numbers.count >= 3 else { return nil }
  return (numbers[0], numbers[1], numbers[2])
}

@Suite(.serialized) struct FaultEndToEndTests {
  /// With the fd limit too low for one startup step after another (the event loop's epoll,
  /// timerfd and signalfd, each mock line's pipe, the watchdog device), the program names what
  /// failed, exits 1 and starts nothing: no record, no file written. From the first limit that
  /// is enough, it runs.
  @Test func tooFewFileDescriptorsFailStartupCleanly() throws {
    let folder = try scratchFolder("fdlimit")
    defer { try? FileManager.default.removeItem(at: folder) }
    let sim = try String(contentsOf: packageRoot.appendingPathComponent("Boards/sim.json"), encoding: .utf8)
    let temp = folder.appendingPathComponent("temp").path
    // sim.json's watchdog supervises only; here it also opens a device (/dev/null, a character
    // device that does not tell its timeout), one more startup step that needs an fd.
    let config = try writeConfig(
      sim.replacingOccurrences(of: "/tmp/sensorloop-sim-temp", with: temp)
        .replacingOccurrences(
          of: #""kind": "watchdog","#, with: #""kind": "watchdog", "device": "/dev/null","#), "sim.json",
      in: folder)
    let binary = buildFolder.appendingPathComponent("sensorloop").path
    var messages: [Int: String] = [:]
    var enough: Int?
    // Below 4 the dynamic loader itself cannot open the libraries (exit 127, before main).
    for limit in 4...48 {
      let run = try sensorloop(
        ["-c", "ulimit -n \(limit) && exec \"$0\" --config \"$1\" --duration 0.3", binary, config],
        binary: URL(fileURLWithPath: "/bin/sh"))
      if run.status == 0 {
        enough = limit
        #expect(!run.records.isEmpty)
        break
      }
      #expect(run.status == 1, "ulimit -n \(limit): \(run.stderr)")
      #expect(run.stdout.isEmpty, "ulimit -n \(limit): a record was written")
      #expect(run.stderr.hasPrefix("sensorloop: ") && run.stderr.hasSuffix("\n"), "\(run.stderr)")
      #expect(!run.stderr.contains("summary"), "ulimit -n \(limit): the loop ran")
      #expect(run.stderr.contains("EMFILE"), "ulimit -n \(limit): \(run.stderr)")
      #expect(!FileManager.default.fileExists(atPath: temp), "ulimit -n \(limit): a task ran")
      messages[limit] = run.stderr.trimmingCharacters(in: .newlines)
    }
    #expect(messages[4]?.hasPrefix("sensorloop: cannot create the event loop (EMFILE") == true, "\(messages)")
    #expect(messages.values.contains { $0.contains("line \"button\"") })
    #expect(messages.values.contains { $0.contains("cannot open the watchdog") })
    #expect(enough != nil)
    for limit in messages.keys.sorted() { print("ulimit -n \(limit): \(messages[limit]!)") }
  }

  /// The process is stopped and continued 200 times (each SIGCONT makes the blocked epoll_wait
  /// fail with EINTR), then stopped for a second (its timers overrun, its ticks are missed). It
  /// goes on, keeps its grids, reports the loop stall, and its summary counts it all.
  @Test func stopContinueStormAndALongStop() throws {
    let folder = try scratchFolder("stopcont")
    defer { try? FileManager.default.removeItem(at: folder) }
    let config = try writeConfig(
      tickerBoard(fast: 10, kick: 50, stall: 300),
      "board.json", in: folder)
    let run = try sensorloop(["--config", config]) { process in
      let pid = process.processIdentifier
      Thread.sleep(forTimeInterval: 0.5)
      for _ in 0..<200 {
        kill(pid, SIGSTOP)
        usleep(1000)
        kill(pid, SIGCONT)
        usleep(2000)
      }
      kill(pid, SIGSTOP)
      Thread.sleep(forTimeInterval: 1)
      kill(pid, SIGCONT)
      Thread.sleep(forTimeInterval: 0.5)
      kill(pid, SIGINT)
    }
    #expect(run.status == 0, "\(run.stderr)")
    let ticks = run.events("tick", "tick")
    let times = ticks.compactMap { ($0["t_ns"] as? NSNumber)?.int64Value }
    #expect(times.count == ticks.count && times.count > 50)
    #expect(times.allSatisfy { ($0 - times[0]) % 10_000_000 == 0 }, "off the 10 ms grid")
    let numbers = ticks.compactMap { $0["n"] as? Int }
    #expect(numbers == Array(1...numbers.count))
    let stalls = run.events("watchdog", "loop_stall")
    #expect(stalls.count >= 1, "\(run.events("watchdog"))")
    #expect(stalls.contains { ($0["late_ms"] as? Int ?? 0) >= 700 })
    #expect((summaryRow(run.stderr, "tick")["missed"] ?? 0) >= 70)
    let loop = loopLine(run.stderr)
    #expect(loop != nil, "\(run.stderr)")
    #expect((loop?.interrupted ?? 0) > 0)
    #expect((loop?.overruns ?? 0) >= 1)
    print(
      "stop/continue storm: \(loop.map { "\($0)" } ?? "-"), tick missed \(summaryRow(run.stderr, "tick")["missed"] ?? -1)"
    )
  }

  /// Stdout into a pipe whose reader exits after three lines: every later write fails with
  /// EPIPE (SIGPIPE is taken, so it is an error, not death). The program runs its course, exits
  /// 0, and its summary says how many records were discarded.
  @Test func anOutputWhoseReaderExitsIsReportedNotFatal() throws {
    let folder = try scratchFolder("epipe")
    defer { try? FileManager.default.removeItem(at: folder) }
    let config = try writeConfig(
      tickerBoard(fast: 1, kick: 100, stall: 5000),
      "board.json", in: folder)
    let binary = buildFolder.appendingPathComponent("sensorloop").path
    let run = try sensorloop(
      [
        "-c", "\"$0\" --config \"$1\" --duration 1.5 | head -n 3; echo \"status=${PIPESTATUS[0]}\"", binary,
        config,
      ],
      binary: URL(fileURLWithPath: "/bin/bash"))
    let lines = run.stdout.split(separator: "\n")
    #expect(lines.count == 4)
    #expect(lines.last == "status=0", "\(run.stdout)")
    let discarded = run.stderr.split(separator: "\n").first {
      $0.contains("records discarded after write errors")
    }
    #expect(discarded?.hasSuffix("last error EPIPE)") == true, "\(run.stderr)")
    let count = discarded.flatMap { $0.split(separator: " ").dropFirst().first }.flatMap { Int($0) } ?? 0
    #expect(count > 500, "\(discarded ?? "")")
    let accepted = ["tick", "slow"].map { summaryRow(run.stderr, $0)["records"] ?? 0 }.reduce(0, +)
    #expect(accepted >= count + 3)
    print("EPIPE: \(discarded ?? "-")")
  }

  /// Stdout into a pipe nobody reads: the writer waits for room that never comes, the ring
  /// fills and records are dropped (counted per task), the loop goes on, and SIGINT still
  /// stops the program promptly (the final flush waits half a second at most, then reports
  /// what it could not write).
  @Test func anOutputNobodyReadsDropsRecordsAndSIGINTStillStops() throws {
    let folder = try scratchFolder("blocked")
    defer { try? FileManager.default.removeItem(at: folder) }
    let config = try writeConfig(
      tickerBoard(
        fast: 1, kick: 100, stall: 5000,
        ringBytes: 4096),
      "board.json", in: folder)
    let process = Process()
    process.executableURL = buildFolder.appendingPathComponent("sensorloop")
    process.arguments = ["--config", config]
    let out = Pipe()  // never read
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    let errData = LockedData()
    err.fileHandleForReading.readabilityHandler = { errData.append($0.availableData) }
    try process.run()
    Thread.sleep(forTimeInterval: 1.5)
    kill(process.processIdentifier, SIGINT)
    let signalled = Date()
    while process.isRunning && Date().timeIntervalSince(signalled) < 10 {
      Thread.sleep(forTimeInterval: 0.01)
    }
    let took = Date().timeIntervalSince(signalled)
    if process.isRunning {
      process.terminate()
      Issue.record("SIGINT did not stop sensorloop within 10 s (stdout blocked)")
    }
    process.waitUntilExit()
    err.fileHandleForReading.readabilityHandler = nil
    errData.append(err.fileHandleForReading.readDataToEndOfFile())
    let stderr = errData.string
    #expect(process.terminationStatus == 0)
    #expect(took < 5, "stopped \(took) s after SIGINT")
    let tick = summaryRow(stderr, "tick")
    #expect((tick["dropped"] ?? 0) > 0, "\(stderr)")
    // The loop was not stalled by the blocked output: the ticks kept coming (recorded, dropped
    // or, on a loaded host, missed), and the slow ticker and the heartbeat kept their turns.
    #expect((tick["records"] ?? 0) + (tick["dropped"] ?? 0) + (tick["missed"] ?? 0) >= 1000, "\(stderr)")
    #expect((summaryRow(stderr, "slow")["polls"] ?? 0) >= 10)
    #expect((summaryRow(stderr, "heartbeat")["polls"] ?? 0) >= 20)
    #expect(stderr.contains(" bytes unwritten"))
    print(String(format: "blocked stdout: stopped %.3f s after SIGINT; tick %@", took, "\(tick)"))
  }
}
